"""Run the sandbox gateway as its own server: `python -m ebiz.payments.sandbox --port 8090`.

Point eBiz at it with SANDBOX_GATEWAY_URL=http://127.0.0.1:8090 and the same
SANDBOX_GATEWAY_SECRET on both sides.
"""

import argparse
import os

from werkzeug.serving import run_simple

from . import ROOT, make_sandbox_app


def main() -> None:
    ap = argparse.ArgumentParser(description="eBiz sandbox payment gateway")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--db", default=os.environ.get("SANDBOX_DATABASE_URL",
                                                   f"sqlite:///{ROOT / 'instance' / 'sandbox_gateway.db'}"))
    ap.add_argument("--callback-delay", type=float, default=3.0, help="seconds, for callback mode 'delay'")
    args = ap.parse_args()
    config = {"SANDBOX_DATABASE_URL": args.db, "SANDBOX_CALLBACK_DELAY_SECONDS": args.callback_delay}
    if os.environ.get("SANDBOX_GATEWAY_SECRET"):
        config["SANDBOX_GATEWAY_SECRET"] = os.environ["SANDBOX_GATEWAY_SECRET"]
    run_simple(args.host, args.port, make_sandbox_app(**config), threaded=True)


if __name__ == "__main__":
    main()
