# Parses one message from stdin with Python's `email` package (policy.default) and prints what
# the email suites compare: subject, addresses, bodies and attachments.
import base64, json, sys
from email import policy
from email.parser import BytesParser

msg = BytesParser(policy=policy.default).parse(sys.stdin.buffer)

def utf8(text):
    # RFC 6532 headers (raw UTF-8, e.g. an SMTPUTF8 local part) reach Python as surrogate
    # escapes of their bytes; undo that to compare text.
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8")


def addresses(name):
    header = msg[name]
    if header is None:
        return []
    return [{"name": utf8(a.display_name), "address": utf8(a.addr_spec)} for a in header.addresses]

text = html = None
attachments = []
for part in msg.walk():
    if part.is_multipart():
        continue
    disposition = part.get_content_disposition()
    if disposition in ("attachment", "inline"):
        attachments.append({
            "filename": part.get_filename(),
            "contentType": part.get_content_type(),
            "contentId": part["Content-ID"],
            "content": base64.b64encode(part.get_payload(decode=True)).decode(),
        })
    elif part.get_content_type() == "text/plain" and text is None:
        text = part.get_content()
    elif part.get_content_type() == "text/html" and html is None:
        html = part.get_content()

json.dump({
    "subject": utf8(msg["Subject"]),
    "from": addresses("From"),
    "to": addresses("To"),
    "cc": addresses("Cc"),
    "replyTo": addresses("Reply-To"),
    "bcc": addresses("Bcc"),
    "text": text,
    "html": html,
    "attachments": attachments,
    "defects": [type(d).__name__ for p in msg.walk() for d in p.defects],
}, sys.stdout)
