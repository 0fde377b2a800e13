"""Push a report to a patient's DSP from Python, then read it back.

    PYTHONPATH=bindings/python DSPCONNECT_LIBRARY=target/debug/libdspconnect.so \
        python3 examples/python/push.py SOCKET PIN PATIENT FILE
"""

import sys

from dspconnect import Client, DspError, JobState, Mode, version


def main(socket, pin, patient, path):
    print(f"libdspconnect {version()}")
    with Client(socket or None) as dsp:
        status = dsp.status()
        print(f"sandbox={status.sandbox} session={status.session.name}")
        dsp.unlock(pin)
        job, unique_id = dsp.push_file(path, patient=patient, title="Compte rendu (Python)",
                                       mode=Mode.RESTREINT, patient_informed=True)
        state = dsp.job_wait(job, 60_000)
        print(f"job {job}: {state.name}")
        titles = [d.title for d in dsp.list(patient) if d.unique_id == unique_id]
        print(f"listed: {titles}")
        try:
            dsp.push_bytes(b"%PDF-1.4\n", patient="1893120105733", title="x", patient_informed=True)
        except DspError as e:
            print(f"refused: code {e.code} field {e.field}")
        return 0 if state == JobState.DONE and titles else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
