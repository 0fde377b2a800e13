"""A professional's account from Python: activation with the Agence
eSanté's letter (two steps: the e-mail's code comes in between), a
password session, a password change.

    python3 -m pip install --no-deps --no-build-isolation bindings/python
    DSPCONNECT_LIBRARY=target/debug/libdspconnect.so python3 examples/python/account.py \
        SOCKET PIN activate LETTER_CODE MATRICULE EMAIL
    ... SOCKET PIN confirm LETTER_CODE MATRICULE EMAIL_CODE NEW_PASSWORD NEXT_PASSWORD

(socket "" for the default; the card is the not yet active professional's,
whose PIN is verified before the activation.)
"""

import sys
from typing import Callable

from dspconnect import Client, DspError, SessionState


def expect_error(what: str, call: Callable[[], object]) -> None:
    """A call expected to fail: prints its code."""
    try:
        call()
    except DspError as e:
        print(f"{what}: code {e.code}")
        return
    raise SystemExit(f"{what} succeeded, an error was expected")


def activate(dsp: Client, pin: str, letter: str, matricule: str, email: str) -> None:
    # Not active yet: the platform refuses the session; the PIN is verified.
    expect_error("unlock before activation", lambda: dsp.unlock(pin))
    expect_error("wrong letter code",
                 lambda: dsp.account_activate("WRONG-CODE-0000", matricule, email))
    sent_to, expires = dsp.account_activate(letter, matricule, email)
    print(f"activation code sent to {sent_to}, valid until {expires}")


def confirm(dsp: Client, letter: str, matricule: str, email_code: str, password: str,
            next_password: str) -> None:
    ehealth_id = dsp.account_activate_confirm(letter, matricule, email_code, password)
    print(f"activated {ehealth_id}")
    # Active now, the verified card opens its session: a password session
    # (less access) needs it locked first.
    dsp.lock()
    state = dsp.password_login(matricule, password)
    print(f"password session: {state.name} ({int(state)})")
    print(f"status: {dsp.status().session.name}")
    expect_error("documents in a password session", lambda: dsp.list("1945093006704"))
    expect_error("weak password", lambda: dsp.change_password(password, "short"))
    dsp.change_password(password, next_password)
    print("password changed")
    expect_error("old password", lambda: dsp.password_login(matricule, password))
    state = dsp.password_login(matricule, next_password)
    print(f"new password session: {state.name}")
    if state != SessionState.PASSWORD:
        raise SystemExit(f"expected a password session, got {state.name}")


def main(argv: "list[str]") -> int:
    if len(argv) == 7 and argv[3] == "activate":
        with Client(argv[1] or None) as dsp:
            activate(dsp, argv[2], argv[4], argv[5], argv[6])
        return 0
    if len(argv) == 9 and argv[3] == "confirm":
        with Client(argv[1] or None) as dsp:
            confirm(dsp, argv[4], argv[5], argv[6], argv[7], argv[8])
        return 0
    print(f"usage: {argv[0]} SOCKET PIN activate LETTER_CODE MATRICULE EMAIL\n"
          f"       {argv[0]} SOCKET PIN confirm LETTER_CODE MATRICULE EMAIL_CODE NEW_PASSWORD "
          "NEXT_PASSWORD", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
