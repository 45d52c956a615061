# Parses one message from stdin with Python's `email` package (policy.default) and prints what
# the email suites compare: subject, addresses, bodies and attachments.
import base64, json, sys
from email import policy
from email.parser import BytesParser

msg = BytesParser(policy=policy.default).parse(sys.stdin.buffer)

def addresses(name):
    header = msg[name]
    if header is None:
        return []
    return [{"name": a.display_name, "address": a.addr_spec} for a in header.addresses]

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
    "subject": msg["Subject"],
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
