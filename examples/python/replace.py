"""Replace a document (an RPLC correction) from Python.

    python3 -m pip install --no-deps --no-build-isolation bindings/python
    DSPCONNECT_LIBRARY=target/debug/libdspconnect.so \
        python3 examples/python/replace.py SOCKET PIN PATIENT FILE

Pushes FILE, then replaces it by a corrected copy (a file) and that one by
bytes: each original is no longer listed (the platform marks it
Deprecated), each replacement reads back as sent.
(socket "" for the default.)
"""

import os
import sys
import tempfile

from dspconnect import Client, DspError, JobState, Mode


def main(socket: str, pin: str, patient: str, path: str) -> int:
    ok = True
    with Client(socket or None) as dsp:
        dsp.unlock(pin)
        job, original = dsp.push_file(path, patient=patient, title="Ordonnance (Python)",
                                      mode=Mode.NORMAL, patient_informed=True)
        state = dsp.job_wait(job, 60_000)
        print(f"original {original}: {state.name}")
        ok &= state == JobState.DONE

        with open(path, "rb") as f:
            corrected = f.read().replace(b"%%EOF", b"% corrige\n%%EOF")
        with tempfile.TemporaryDirectory() as tmp:
            corrected_path = os.path.join(tmp, "corrige.pdf")
            with open(corrected_path, "wb") as f:
                f.write(corrected)
            job, replacement = dsp.replace_file(original, corrected_path, patient=patient,
                                                title="Ordonnance (Python) corrigee",
                                                mode=Mode.RESTREINT, patient_informed=True)
        state = dsp.job_wait(job, 60_000)
        print(f"replacement {replacement} of {original}: {state.name}")
        ok &= state == JobState.DONE

        second = corrected + b"% encore\n"
        job, final = dsp.replace_bytes(replacement, second, patient=patient,
                                       title="Ordonnance (Python) v3", mode=Mode.RESTREINT,
                                       patient_informed=True, mime_type="application/pdf")
        state = dsp.job_wait(job, 60_000)
        print(f"final {final} of {replacement}: {state.name}")
        ok &= state == JobState.DONE

        listed = {d.unique_id: d for d in dsp.list(patient)}
        for name, uid in (("original", original), ("replacement", replacement),
                          ("final", final)):
            print(f"listed {name}: {'yes' if uid in listed else 'no'}")
        ok &= original not in listed and replacement not in listed and final in listed
        if final in listed:
            d = listed[final]
            print(f"final: {d.title}, {d.mode.name}, deprecated {d.deprecated}")

        data, mime_type = dsp.get_bytes(patient, final)
        same = data == second
        print(f"final read back: {len(data)} bytes, {mime_type}, "
              f"{'identical' if same else 'DIFFERENT'}")
        ok &= same

        # A replacement of a document that does not exist is refused.
        try:
            job, _ = dsp.replace_bytes("2.25.1", second, patient=patient, title="x",
                                       patient_informed=True)
            state = dsp.job_wait(job, 60_000)
            print(f"replacing an unknown document: {state.name} "
                  f"(error {dsp.job_status(job).error_code})")
        except DspError as e:
            print(f"replacing an unknown document: code {e.code}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(f"usage: {sys.argv[0]} SOCKET PIN PATIENT FILE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:5]))
