"""Push a report to a patient's DSP from Python in mode Restreint, read it
back, change its mode to Normal and get the one-time URL of the DSP.

    python3 -m pip install --no-deps --no-build-isolation bindings/python
    DSPCONNECT_LIBRARY=target/debug/libdspconnect.so \
        python3 examples/python/push.py SOCKET PIN PATIENT FILE

(socket "" for the default.)
"""

import sys

from dspconnect import Client, DspError, JobState, Mode, version


def main(socket: str, pin: str, patient: str, path: str) -> int:
    print(f"libdspconnect {version()}")
    with Client(socket or None) as dsp:
        status = dsp.status()
        print(f"sandbox={status.sandbox} session={status.session.name}")
        events: "list[str]" = []
        dsp.set_event_callback(events.append)  # runs on the library's thread
        dsp.unlock(pin)
        job, unique_id = dsp.push_file(path, patient=patient, title="Compte rendu (Python)",
                                       mode=Mode.RESTREINT, patient_informed=True)
        state = dsp.job_wait(job, 60_000)
        print(f"job {job}: {state.name}")
        print(f"uniqueId {unique_id}")
        info = dsp.job_status(job)
        print(f"job status {info.state.name}, {info.sent} of {info.document_size} bytes")
        titles = [d.title for d in dsp.list(patient) if d.unique_id == unique_id]
        print(f"listed: {titles}")
        data, mime_type = dsp.get_bytes(patient, unique_id)
        with open(path, "rb") as f:
            same = f.read() == data
        print(f"read back {len(data)} bytes, {mime_type}, {'identical' if same else 'DIFFERENT'}")
        print("hpd: " + ", ".join(f"{p.ehealth_id} {p.name}" for p in dsp.hpd_lookup("SBX1002")))
        # The patient was told: the report may now be seen as any other.
        dsp.set_mode(patient, unique_id, Mode.NORMAL)
        modes = [d.mode for d in dsp.list(patient)
                 if d.unique_id == unique_id and not d.deprecated]
        normal = modes == [Mode.NORMAL]
        print(f"mode now {modes[0].name if modes else 'unlisted'}")
        # A one-time bearer secret: real software hands it to the browser
        # (launch_browser=True) and never logs it.
        print(f"DSP URL: {dsp.open_dsp(patient, launch_browser=False)}")
        dsp.set_event_callback(None)
        try:
            dsp.push_bytes(b"%PDF-1.4\n", patient="1893120105733", title="x", patient_informed=True)
        except DspError as e:
            print(f"refused: code {e.code} field {e.field}")
        jobs = sum('"kind":"job"' in e for e in events)
        sessions = sum('"kind":"session"' in e for e in events)
        print(f"events by callback: {jobs} job, {sessions} session")
        return 0 if state == JobState.DONE and titles and same and normal else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
