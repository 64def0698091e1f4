"""FPX participating banks (retail and corporate) as the sandbox and the forms show them.

Codes follow the shape of FPX bank codes; a real gateway adapter would fetch the live list
(and each bank's online/offline state) from the gateway instead.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    corporate: bool = False  # corporate (B2B) banking: a second approver authorises later


FPX_BANKS: tuple[Bank, ...] = (
    Bank("MB2U0227", "Maybank2u"),
    Bank("BCBB0235", "CIMB Clicks"),
    Bank("PBB0233", "Public Bank"),
    Bank("RHB0218", "RHB Now"),
    Bank("HLB0224", "Hong Leong Connect"),
    Bank("AMBB0209", "AmOnline"),
    Bank("BIMB0340", "Bank Islam"),
    Bank("BKRM0602", "Bank Rakyat"),
    Bank("BSN0601", "BSN"),
    Bank("ABB0233", "Affin Bank"),
    Bank("ABMB0212", "Alliance Bank"),
    Bank("AGRO01", "AGRONet"),
    Bank("OCBC0229", "OCBC Bank"),
    Bank("UOB0226", "UOB Bank"),
    Bank("HSBC0223", "HSBC Bank"),
    Bank("SCB0216", "Standard Chartered"),
    Bank("BMMB0341", "Bank Muamalat"),
    Bank("KFH0346", "KFH"),
    Bank("MBSB0227", "MBSB Bank"),
    Bank("MBB0228", "Maybank2E (corporate)", corporate=True),
    Bank("BCBB0236", "CIMB BizChannel (corporate)", corporate=True),
    Bank("RHB0219", "RHB Reflex (corporate)", corporate=True),
)

BANKS_BY_CODE = {b.code: b for b in FPX_BANKS}


def bank_name(code: str | None) -> str:
    bank = BANKS_BY_CODE.get(code or "")
    return bank.name if bank else (code or "")
