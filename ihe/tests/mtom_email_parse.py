#!/usr/bin/env python3
"""Parse an MTOM body with Python's standard `email` package, an
independent MIME implementation, and print what it found.

usage: mtom_email_parse.py CONTENT_TYPE BODY_FILE

Output, one line each, tab-separated:
  message <content-type> <boundary> <start> <defect count>
  part <content-id> <content-type> <transfer-encoding> <length> <sha1> <defect count>
"""
import email.parser
import email.policy
import hashlib
import sys


def main() -> int:
    content_type, body_path = sys.argv[1], sys.argv[2]
    with open(body_path, "rb") as f:
        body = f.read()
    raw = b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    print("\t".join([
        "message",
        message.get_content_type(),
        str(message.get_boundary()),
        str(message.get_param("start")),
        str(len(message.defects)),
    ]))
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        print("\t".join([
            "part",
            str(part["Content-ID"]),
            part.get_content_type(),
            str(part["Content-Transfer-Encoding"]),
            str(len(payload)),
            hashlib.sha1(payload).hexdigest(),
            str(len(part.defects)),
        ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
