# A loopback SMTP server for the notify tests (aiosmtpd). argv[1] is a JSON
# object with `dir` (where each accepted message goes, as NNNNNN.eml with
# NNNNNN.json beside it: envelope and time of receipt), `rules` (recipient
# to {"reply": "451 ...", "times": n}, n < 0 for always) and optional
# `cert`/`key` (then STARTTLS is offered and required). Prints `PORT n`
# once listening.
import asyncio, json, os, ssl, sys, time
from aiosmtpd.smtp import SMTP

cfg = json.loads(sys.argv[1])

class Sink:
    def __init__(self):
        self.n = 0
        self.left = {k: v["times"] for k, v in cfg["rules"].items()}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rule = cfg["rules"].get(address)
        if rule is not None and self.left[address] != 0:
            if self.left[address] > 0:
                self.left[address] -= 1
            return rule["reply"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(cfg["dir"], "%06d" % self.n)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        meta = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "time": time.time(),
                "tls": session.ssl is not None}
        with open(base + ".tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 2.0.0 Ok: queued as Q%06d" % self.n

async def main():
    handler = Sink()
    tls = None
    if cfg.get("cert"):
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cfg["cert"], cfg["key"])
    def factory():
        return SMTP(handler, decode_data=False, hostname="sink.test",
                    tls_context=tls, require_starttls=tls is not None)
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
