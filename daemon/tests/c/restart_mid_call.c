/*
 * A call in flight when the daemon dies (daemon/tests/ffi_c.rs drives it):
 * dsp_job_wait on a job that cannot finish (the test makes the platform
 * unavailable) must answer DSP_E_CONNECTION_LOST (201, docs/ipc.md) as soon
 * as the daemon is gone — not hang until its timeout, not crash — and once
 * the test has started the daemon again, a new client works.
 *
 *   restart_mid_call SOCKET PIN PATIENT
 *
 * Protocol with the test, one line each on stdout: "waiting on JOB" right
 * before the blocking call (the test then kills the daemon), the call's
 * outcome, "restart the daemon" (the test answers with a line on stdin once
 * it has), then the new client's status.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dspconnect.h"

/* DSP_E_CONNECTION_LOST in docs/ipc.md ("Errors"). */
#define CONNECTION_LOST 201u

static int fail(const char *what, dsp_error *error) {
    fprintf(stderr, "%s failed: [%u] %s\n", what, dsp_error_code(error), dsp_error_message(error));
    dsp_error_free(error);
    return 1;
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET PIN PATIENT\n", argv[0]);
        return 2;
    }
    dsp_client *client = NULL;
    dsp_error *error = dsp_connect(argv[1], 30000, &client);
    if (error) return fail("connect", error);
    if ((error = dsp_unlock(client, argv[2]))) return fail("unlock", error);

    static const char pdf[] = "%PDF-1.4\n% restart mid-call\n%%EOF\n";
    dsp_push_metadata metadata = {argv[3], "Pendant le redemarrage (C)", DSP_MODE_NORMAL, true,
                                  "application/pdf"};
    char *job = NULL;
    if ((error = dsp_push_buffer(client, (const uint8_t *)pdf, sizeof pdf - 1, &metadata, &job,
                                 NULL)))
        return fail("push", error);

    printf("waiting on %s\n", job);
    fflush(stdout);
    dsp_job_state state = DSP_JOB_QUEUED;
    long long started = now_ms();
    error = dsp_job_wait(client, job, 60000, &state);
    long long waited = now_ms() - started;
    dsp_string_free(job);
    if (!error) {
        printf("job_wait answered state %u after %lld ms, an error was expected\n",
               (unsigned)state, waited);
        return 1;
    }
    unsigned code = dsp_error_code(error);
    printf("job_wait: code %u after %lld ms (%s)\n", code, waited,
           code == CONNECTION_LOST ? "connection lost" : dsp_error_message(error));
    dsp_error_free(error);

    /* The old handle stays usable as a handle: its calls fail, they do not crash. */
    dsp_status status;
    error = dsp_status_get(client, &status);
    printf("old client: %s %u\n", error ? "code" : "answered", error ? dsp_error_code(error) : 0u);
    dsp_error_free(error);
    dsp_client_free(client);

    printf("restart the daemon\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "no answer on stdin\n");
        return 1;
    }

    client = NULL;
    if ((error = dsp_connect(argv[1], 30000, &client))) return fail("connect again", error);
    if ((error = dsp_status_get(client, &status))) return fail("status again", error);
    printf("new client: status ok, sandbox %d, session %u, outbox waiting %u\n",
           status.sandbox ? 1 : 0, (unsigned)status.session, status.outbox_waiting);
    dsp_client_free(client);
    return code == CONNECTION_LOST ? 0 : 1;
}
