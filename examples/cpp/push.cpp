// A practice-software integration in C++ (bindings/cpp/dspconnect.hpp):
// connect to dspconnectd, unlock the card, push a report in mode
// Restreint, wait until the DSP registered it, list the patient's
// documents, open the report to the patient's other professionals (mode
// Normal), and get the one-time URL of the patient's DSP.
//
//   ./push SOCKET PIN PATIENT FILE      (SOCKET "" for the default endpoint)
//
// Build: see examples/cpp/README.md.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dspconnect.hpp"

namespace {

int fail(const char *what, const dspconnect::Error &e) {
  std::fprintf(stderr, "%s failed: [%u] %s\n", what, e.code_number(), e.what());
  if (e.hint()) std::fprintf(stderr, "  hint: %s\n", e.hint()->c_str());
  if (e.field()) std::fprintf(stderr, "  field: %s\n", e.field()->c_str());
  if (e.pin_tries_left()) std::fprintf(stderr, "  PIN tries left: %d\n", *e.pin_tries_left());
  return 1;
}

int run(const std::string &socket, const std::string &pin, const std::string &patient,
        const std::string &file) {
  using dspconnect::JobState;
  using dspconnect::Mode;

  std::printf("libdspconnect %s\n", dspconnect::version().c_str());

  const char *step = "connect";
  try {
    auto dsp = dspconnect::Client::connect(
        socket.empty() ? std::nullopt : std::optional<std::string>(socket), 30000);

    step = "status";
    const dspconnect::Status status = dsp.status();
    std::printf("sandbox=%d card_present=%d session=%s\n", status.sandbox ? 1 : 0,
                status.card_present ? 1 : 0, dspconnect::to_string(status.session));

    step = "unlock";
    dsp.unlock(pin);

    step = "push";
    dspconnect::PushMetadata metadata;
    metadata.patient = patient;
    metadata.title = "Lettre de sortie (C++)";
    metadata.mode = Mode::Restreint;
    metadata.patient_informed = true;
    const dspconnect::Pushed pushed = dsp.push_file(file, metadata);
    std::printf("queued job %s, document %s\n", pushed.job_id.c_str(), pushed.unique_id.c_str());

    step = "job wait";
    const JobState state = dsp.job_wait(pushed.job_id, 60000);
    std::printf("job state %s\n", dspconnect::to_string(state));
    if (state != JobState::Done) {
      std::fprintf(stderr, "the job did not end Done\n");
      return 1;
    }

    step = "job status";
    const dspconnect::JobInfo info = dsp.job_status(pushed.job_id);
    std::printf("job status %s, %llu of %llu bytes\n", dspconnect::to_string(info.state),
                static_cast<unsigned long long>(info.sent),
                static_cast<unsigned long long>(info.document_size));

    step = "get to buffer";
    const dspconnect::Retrieved back = dsp.get_to_buffer(patient, pushed.unique_id);
    std::printf("read back %zu bytes, %s\n", back.data.size(), back.mime_type.c_str());

    step = "hpd";
    for (const dspconnect::Professional &p : dsp.hpd_lookup(std::string("SBX1002"), std::nullopt))
      std::printf("hpd: %s %s\n", p.ehealth_id.c_str(), p.name.c_str());

    step = "list";
    bool found = false;
    for (const dspconnect::Document &d : dsp.list(patient)) {
      std::printf("  %s  %s  mode %s\n", d.unique_id.c_str(), d.title.c_str(),
                  dspconnect::to_string(d.mode));
      if (d.unique_id == pushed.unique_id) found = true;
    }
    if (!found) {
      std::fprintf(stderr, "document %s is not listed\n", pushed.unique_id.c_str());
      return 1;
    }

    step = "set mode";
    dsp.set_mode(patient, pushed.unique_id, Mode::Normal);
    Mode now = Mode::Restreint;
    for (const dspconnect::Document &d : dsp.list(patient))
      if (d.unique_id == pushed.unique_id) now = d.mode;
    std::printf("mode now %s\n", dspconnect::to_string(now));
    if (now != Mode::Normal) return 1;

    // A bad matricule: a specific error that names the field.
    step = "bad matricule";
    dspconnect::PushMetadata bad = metadata;
    bad.patient = "1893120105733";
    try {
      dsp.push_file(file, bad);
      std::fprintf(stderr, "a bad matricule was accepted\n");
      return 1;
    } catch (const dspconnect::Error &e) {
      std::printf("bad matricule: code %u, field %s\n", e.code_number(),
                  e.field() ? e.field()->c_str() : "(none)");
    }

    // The URL is a one-time bearer secret: hand it to the browser (here
    // printed, since the example launches none), never to a log.
    step = "open DSP";
    const std::string url = dsp.open_dsp(patient, /*launch_browser=*/false);
    std::printf("DSP URL: %s\n", url.c_str());
    return 0;
  } catch (const dspconnect::Error &e) {
    return fail(step, e);
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s SOCKET PIN PATIENT FILE\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[1], argv[2], argv[3], argv[4]);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
