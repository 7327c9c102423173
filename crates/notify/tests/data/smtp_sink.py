# A loopback SMTP server for the notify tests (aiosmtpd). argv[1] is a JSON
# object with `dir` (where each accepted message goes, as NNNNNN.eml with
# NNNNNN.json beside it: envelope and time of receipt), `rules` (recipient
# to {"reply": "451 ...", "times": n}, n < 0 for always) and optional
# `cert`/`key` (then STARTTLS is offered and required). Prints `PORT n`
# once listening.
#
# Optional too: `slow_data` (recipient to {"seconds": s, "times": n}: the
# message is stored, then the reply to its final "." waits s seconds, as
# a slow server that did accept it) and `auth` (user to password: AUTH
# PLAIN/LOGIN required, over TLS only; the meta file's "auth" says who
# logged in, null when nobody did).
import asyncio, json, os, ssl, sys, time, warnings
from aiosmtpd.smtp import SMTP, AuthResult

# aiosmtpd itself still sets its deprecated Session.login_data on AUTH.
warnings.filterwarnings("ignore", message="Session.login_data")

cfg = json.loads(sys.argv[1])

class Sink:
    def __init__(self):
        self.n = 0
        self.left = {k: v["times"] for k, v in cfg["rules"].items()}
        self.slow = {k: v["times"] for k, v in cfg.get("slow_data", {}).items()}

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
        login = getattr(session.auth_data, "login", None)
        meta = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "time": time.time(),
                "tls": session.ssl is not None,
                "auth": login.decode() if isinstance(login, bytes) else login}
        with open(base + ".tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".json")
        for rcpt in envelope.rcpt_tos:
            if self.slow.get(rcpt, 0) != 0:
                if self.slow[rcpt] > 0:
                    self.slow[rcpt] -= 1
                await asyncio.sleep(cfg["slow_data"][rcpt]["seconds"])
                break
        return "250 2.0.0 Ok: queued as Q%06d" % self.n

def authenticator(server, session, envelope, mechanism, auth_data):
    users = cfg.get("auth") or {}
    try:
        login, password = auth_data.login.decode(), auth_data.password.decode()
    except (AttributeError, UnicodeDecodeError):
        return AuthResult(success=False, handled=False)
    ok = login in users and users[login] == password
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

async def main():
    handler = Sink()
    tls = None
    if cfg.get("cert"):
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cfg["cert"], cfg["key"])
    auth = bool(cfg.get("auth"))
    def factory():
        return SMTP(handler, decode_data=False, hostname="sink.test",
                    tls_context=tls, require_starttls=tls is not None,
                    authenticator=authenticator if auth else None,
                    auth_required=auth)
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
