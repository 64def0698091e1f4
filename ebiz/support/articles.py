"""The help centre's first articles, in Malay and English (seeded by the demo and by
`flask support seed-help`; staff edit them afterwards in the help centre's staff pages).
Each entry: slug, topic (a ticket category), title_ms, title_en, body_ms, body_en (Markdown)."""

ARTICLES = [
    ("akaun-dan-tahap", "account",
     "Akaun, tahap Biasa dan Utama",
     "Accounts and tiers: Regular and Primary",
     """Setiap akaun baharu bermula pada tahap **Biasa**. Anda boleh membeli produk bercetak dan
perkhidmatan serta-merta.

Untuk membeli **data digital** dan memegang **dompet prabayar**, akaun anda perlu dinaik taraf ke
tahap **Utama**. Bawa dokumen pengenalan anda ke mana-mana kaunter eBiz; pegawai kaunter menyemaknya
dan menaik taraf akaun anda pada hari yang sama.

Anda boleh log masuk dengan alamat e-mel atau nombor pengenalan anda.""",
     """Every new account starts at the **Regular** tier. You can buy printed products and services
straight away.

To buy **digital data** and hold a **prepaid wallet**, your account must be upgraded to **Primary**.
Bring your identity document to any eBiz counter; the counter staff check it and upgrade your
account the same day.

You can sign in with your email address or your identity number."""),
    ("kaunter-dan-dokumen", "counters",
     "Kaunter dan dokumen yang perlu dibawa",
     "Counters and the documents to bring",
     """Kaunter eBiz dibuka Isnin hingga Jumaat, 8.00 hingga 17.00, kecuali cuti umum. Senarai kaunter
ada di halaman [Hubungi kami](/help/contact).

Bawa:

- **Warganegara Malaysia:** MyKad asal.
- **Bukan warganegara:** pasport asal.
- **Syarikat:** sijil pendaftaran syarikat (SSM) dan MyKad wakil syarikat.

Tambah nilai dompet hanya diterima di kaunter Ibu Pejabat.""",
     """eBiz counters open Monday to Friday, 8.00 to 17.00, except on public holidays. The list of
counters is on the [Contact us](/help/contact) page.

Bring:

- **Malaysian citizens:** your original MyKad.
- **Non-citizens:** your original passport.
- **Companies:** the company registration certificate (SSM) and the representative's MyKad.

Wallet top-ups are taken only at the HQ counter."""),
    ("runner", "counters",
     "Menghantar runner ke kaunter",
     "Sending a runner to the counter",
     """Syarikat boleh menghantar runner untuk mengambil produk bercetak atau membayar di kaunter.
Wakil syarikat mengeluarkan kod sekali guna (OTP) untuk runner; runner menunjukkan kod itu di
kaunter bersama MyKad mereka sendiri. Setiap kod hanya boleh digunakan sekali dan tamat tempoh.""",
     """A company may send a runner to collect printed products or pay at a counter. The company's
representative issues a one-time code (OTP) for the runner; the runner shows that code at the
counter with their own MyKad. Each code works once and expires."""),
    ("dompet-dan-tambah-nilai", "payment",
     "Dompet prabayar dan tambah nilai",
     "Prepaid wallets and top-ups",
     """Pelanggan Utama boleh menambah nilai dompet secara dalam talian (FPX atau kad) atau di kaunter
Ibu Pejabat. Baki dompet digunakan untuk membayar pesanan dengan serta-merta. Penyata dompet
menunjukkan setiap transaksi; baki tidak boleh melebihi had maksimum dompet.""",
     """Primary customers can top up their wallet online (FPX or card) or at the HQ counter. The wallet
balance pays for orders at once. The wallet statement shows every transaction; the balance cannot
go above the wallet's maximum."""),
    ("bayaran-belum-dibayar", "payment",
     "Bank sudah tolak wang tetapi pesanan masih belum dibayar",
     "The bank took the money but my order still shows unpaid",
     """Kadang-kadang bank lambat menghantar jawapan. Buka halaman pembayaran dan tekan **Semak
semula**; kami juga menyemak dengan bank secara automatik setiap beberapa minit.

Jika pembayaran masih belum dibayar selepas sejam, [buka permintaan sokongan](/support/new?kind=payment)
dari halaman pembayaran itu. Ejen kami menyemak semula dengan bank dan, jika wang diterima untuk
pesanan yang tidak lagi boleh dibayar, memulangkannya melalui baris gilir bayaran balik.""",
     """Sometimes the bank is slow to send its answer. Open the payment page and press **Check
again**; we also ask the bank automatically every few minutes.

If the payment still shows unpaid after an hour, [open a support request](/support/new?kind=payment)
from that payment's page. Our agent asks the bank again and, if money arrived for an order that can
no longer be paid, returns it through the refund queue."""),
    ("resit", "payment",
     "Resit dan invois",
     "Receipts and invoices",
     """Setiap pesanan mempunyai invois, dan setiap pembayaran yang berjaya mempunyai resit. Kedua-duanya
boleh dimuat turun sebagai PDF dari halaman pesanan atau halaman **Pembayaran**. Resit juga dihantar
melalui e-mel sebaik sahaja pembayaran disahkan.""",
     """Every order has an invoice and every successful payment a receipt. Both can be downloaded as PDF
from the order page or the **Payments** page. The receipt is also emailed as soon as the payment is
confirmed."""),
    ("lesen", "products",
     "Lesen data digital",
     "Licences for digital data",
     """Setiap produk digital diberikan di bawah lesen digital yang anda terima semasa membuat pesanan.
Sijil lesen boleh dimuat turun dari **Lesen saya**, dan sesiapa boleh mengesahkan sijil itu di
halaman pengesahan awam. Lesen menyatakan cara data boleh digunakan dan dikongsi.""",
     """Every digital product is granted under a digital licence that you accept when ordering. The
licence certificate can be downloaded from **My licences**, and anyone can check it on the public
verification page. The licence says how the data may be used and shared."""),
    ("muat-turun", "downloads",
     "Muat turun: had dan tempoh",
     "Downloads: allowance and period",
     """Setiap produk digital boleh dimuat turun beberapa kali dalam tempoh tertentu, seperti yang
ditunjukkan di **Muat turun saya**. Pautan muat turun tamat selepas beberapa minit; minta pautan
baharu pada bila-bila masa dalam tempoh itu. Muat turun yang terputus boleh disambung semula tanpa
dikira sekali lagi.

Jika had anda habis kerana masalah teknikal, buka permintaan sokongan dari halaman muat turun;
ejen kami boleh memulihkan atau melanjutkan had itu.""",
     """Each digital product can be downloaded a number of times within a period, as shown in **My
downloads**. A download link expires after a few minutes; ask for a new one at any time within the
period. A broken download resumes without counting again.

If your allowance ran out because of a technical problem, open a support request from the download
page; our agent can restore or extend it."""),
    ("data-terhad-dan-remit", "applications",
     "Data terhad dan remit yuran",
     "Restricted data and fee remission",
     """Sesetengah data (contohnya data kadaster terperinci) hanya dijual selepas permohonan diluluskan.
Agensi kerajaan, institusi pengajian dan penyelidik boleh memohon **remit** (pengecualian atau
pengurangan yuran). Hantar permohonan dengan surat sokongan; status permohonan ditunjukkan dalam
akaun anda, dan keputusan dihantar melalui e-mel.""",
     """Some data (detailed cadastral data, for example) is sold only after an application is approved.
Government agencies, education institutions and researchers may apply for **remission** (a waived or
reduced fee). Send the application with a supporting letter; its status is shown in your account
and the decision is emailed."""),
    ("akaun-lama", "account",
     "Akaun daripada sistem lama",
     "Accounts from the old system",
     """Jika anda mempunyai akaun dalam sistem eBiz yang lama, akaun dan baki prabayar anda dipindahkan
melalui pautan pengesahan yang dihantar ke alamat e-mel lama anda.

Jika alamat e-mel lama itu tidak lagi sah, [buka permintaan sokongan](/support/new) dalam kategori
**Akaun dan log masuk**. Kami akan meminta salinan MyKad dan foto anda memegangnya untuk mengesahkan
identiti anda sebelum menukar alamat itu.""",
     """If you had an account in the old eBiz system, your account and prepaid balance move across
through a verification link sent to your old email address.

If that old address no longer works, [open a support request](/support/new) in the **Account and
sign-in** category. We will ask for a copy of your MyKad and a photo of you holding it to confirm
your identity before changing the address."""),
    ("chi-square-ndcdb", "products",
     "Mengapa keputusan ujian khi kuasa dua berbeza selepas kemas kini NDCDB?",
     "Why do chi-square results differ after an NDCDB update?",
     """Pangkalan Data Kadaster Digital Kebangsaan (NDCDB) dikemas kini apabila lot diukur semula dan
koordinat dilaraskan. Ujian khi kuasa dua (chi-square) bagi pelarasan ukur bergantung pada
koordinat titik kawalan dan sisihan piawai yang digunakan; apabila nilai itu berubah dalam versi
baharu, statistik ujian turut berubah walaupun cerapan anda sama.

Semak versi data yang anda gunakan (ditunjukkan pada halaman produk dan dalam lesen anda) dan
bandingkan keputusan menggunakan versi yang sama. Versi baharu produk yang anda miliki
ditunjukkan di **Muat turun saya**.""",
     """The National Digital Cadastral Database (NDCDB) is updated when lots are resurveyed and
coordinates adjusted. A chi-square test of a survey adjustment depends on the control points'
coordinates and the standard deviations used; when those change in a new release, the test
statistic changes too, even for the same observations.

Check which data version you used (shown on the product page and in your licence) and compare
results on the same version. Newer versions of products you own are shown in **My downloads**."""),
]
