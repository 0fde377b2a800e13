// A practice-software integration in C#: connect to dspconnectd, unlock the
// card, push a report in mode Restreint, wait until the DSP registered it,
// list the patient's documents, change the report's mode to Normal, and get
// the one-time URL of the patient's DSP. The same arguments as
// examples/c/push.c:
//
//     Push.exe SOCKET PIN PATIENT FILE
//
// (SOCKET "" for the default; the PIN is a sandbox test card's.) Build and
// run: see examples/csharp/README.md.
using System;
using System.Threading;
using DspConnect;

static class Push
{
    static int Main(string[] args)
    {
        if (args.Length != 4)
        {
            Console.Error.WriteLine("usage: Push.exe SOCKET PIN PATIENT FILE");
            return 2;
        }
        string socket = args[0].Length == 0 ? null : args[0];
        string pin = args[1], patient = args[2], file = args[3];
        try
        {
            return Run(socket, pin, patient, file);
        }
        catch (DspException e)
        {
            Console.Error.WriteLine("failed: " + e.Message);
            return 1;
        }
    }

    static int Run(string socket, string pin, string patient, string file)
    {
        Console.WriteLine("libdspconnect " + DspClient.Version);
        using (var dsp = new DspClient(socket, 30000))
        {
            DspStatus status = dsp.Status();
            Console.WriteLine("sandbox=" + status.Sandbox + " card_present=" + status.CardPresent
                              + " session=" + status.Session);

            // Events come on a thread of their own.
            int jobEvents = 0;
            var jobDone = new ManualResetEvent(false);
            dsp.EventReceived += (sender, e) =>
            {
                Console.WriteLine("event: " + e.Kind);
                if (e.Kind == "job")
                {
                    Interlocked.Increment(ref jobEvents);
                    if (e.Json.Contains("\"state\":\"done\"")) jobDone.Set();
                }
            };

            dsp.Unlock(pin);

            PushResult pushed = dsp.PushFile(file, patient, "Lettre de sortie (C#)", DspMode.Restreint,
                                             patientInformed: true);
            Console.WriteLine("queued job " + pushed.JobId + ", document " + pushed.UniqueId);
            JobState state = dsp.JobWait(pushed.JobId, 60000);
            Console.WriteLine("job state " + state);

            DspDocument ours = null;
            foreach (DspDocument d in dsp.List(patient))
            {
                Console.WriteLine("  " + d.UniqueId + "  " + d.Title + "  " + d.Mode);
                if (d.UniqueId == pushed.UniqueId) ours = d;
            }
            if (ours == null || ours.Mode != DspMode.Restreint)
            {
                Console.Error.WriteLine("the report is not listed in mode Restreint");
                return 1;
            }

            dsp.SetMode(patient, pushed.UniqueId, DspMode.Normal);
            DspMode now = DspMode.Restreint;
            foreach (DspDocument d in dsp.List(patient))
                if (d.UniqueId == pushed.UniqueId) now = d.Mode;
            Console.WriteLine("mode now " + now);

            // A bearer secret in real use: printed here because this is the sandbox.
            string url = dsp.OpenDsp(patient, false);
            Console.WriteLine("DSP URL: " + url);

            // A bad matricule: a specific error that names the field.
            try
            {
                dsp.PushFile(file, "1893120105733", "x", DspMode.Normal, patientInformed: true);
                Console.Error.WriteLine("a bad matricule was accepted");
                return 1;
            }
            catch (DspException e)
            {
                Console.WriteLine("bad matricule: code " + (uint)e.Code + " (" + e.Code + "), field " + e.Field);
            }

            bool sawDone = jobDone.WaitOne(10000);
            Console.WriteLine("job events: " + Thread.VolatileRead(ref jobEvents)
                              + (sawDone ? ", done seen" : ", done not seen"));
            return state == JobState.Done && now == DspMode.Normal && sawDone ? 0 : 1;
        }
    }
}
