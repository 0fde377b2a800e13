/*
 * A practice-software integration in C: connect to dspconnectd, unlock the
 * card, push a report in mode Restreint, wait until the DSP registered it,
 * list the patient's documents, change the report's mode to Normal and get
 * the one-time URL of the patient's DSP.
 *
 *   gcc push.c -Iinclude -Ltarget/debug -ldspconnect -Wl,-rpath,$PWD/target/debug -o push
 *   ./push /run/user/1000/dspconnect/dspconnectd.sock 1234 1945093006704 report.pdf
 *
 * (socket "" for the default; the PIN is a sandbox test card's.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dspconnect.h"

static int fail(const char *what, dsp_error *error) {
    const char *hint = dsp_error_hint(error);
    fprintf(stderr, "%s failed: [%u] %s%s%s\n", what, dsp_error_code(error),
            dsp_error_message(error), hint ? "\n  hint: " : "", hint ? hint : "");
    dsp_error_free(error);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SOCKET PIN PATIENT FILE\n", argv[0]);
        return 2;
    }
    printf("libdspconnect %s\n", dsp_version());

    dsp_client *client = NULL;
    dsp_error *error = dsp_connect(argv[1][0] ? argv[1] : NULL, 30000, &client);
    if (error) return fail("connect", error);

    dsp_status status;
    if ((error = dsp_status_get(client, &status))) return fail("status", error);
    printf("sandbox=%d card_present=%d session=%u\n", status.sandbox, status.card_present,
           (unsigned)status.session);

    if ((error = dsp_unlock(client, argv[2]))) return fail("unlock", error);

    dsp_push_metadata metadata = {
        .patient = argv[3],
        .title = "Lettre de sortie (C)",
        .mode = DSP_MODE_RESTREINT,
        .patient_informed = true,
        .mime_type = NULL,
    };
    char *job_id = NULL, *unique_id = NULL;
    if ((error = dsp_push_file(client, argv[4], &metadata, &job_id, &unique_id)))
        return fail("push", error);
    printf("queued job %s, document %s\n", job_id, unique_id);

    dsp_job_state state;
    if ((error = dsp_job_wait(client, job_id, 60000, &state))) return fail("job wait", error);
    printf("job state %u (%s)\n", (unsigned)state, state == DSP_JOB_DONE ? "done" : "not done");

    dsp_document_list *list = NULL;
    if ((error = dsp_list(client, argv[3], &list))) return fail("list", error);
    int found = 0;
    for (size_t i = 0; i < list->count; i++) {
        printf("  %s  %s  mode %u%s\n", list->documents[i].unique_id, list->documents[i].title,
               (unsigned)list->documents[i].mode,
               list->documents[i].deprecated ? " (deprecated)" : "");
        if (strcmp(list->documents[i].unique_id, unique_id) == 0) found = 1;
    }
    dsp_document_list_free(list);

    /* The patient was told: the report may now be seen as any other. */
    if ((error = dsp_set_mode(client, argv[3], unique_id, DSP_MODE_NORMAL)))
        return fail("set mode", error);
    if ((error = dsp_list(client, argv[3], &list))) return fail("list", error);
    int normal = 0;
    for (size_t i = 0; i < list->count; i++) {
        const dsp_document *d = &list->documents[i];
        if (strcmp(d->unique_id, unique_id) == 0 && !d->deprecated && d->mode == DSP_MODE_NORMAL)
            normal = 1;
    }
    dsp_document_list_free(list);
    printf("mode now %s\n", normal ? "Normal" : "not Normal");

    /* A one-time bearer secret: real software hands it to the browser
       (launch_browser = true) and never logs it. */
    char *url = NULL;
    if ((error = dsp_open_dsp(client, argv[3], false, &url))) return fail("open DSP", error);
    printf("DSP URL: %s\n", url);
    dsp_string_free(url);

    /* A bad matricule: a specific error that names the field. */
    dsp_push_metadata bad = metadata;
    bad.patient = "1893120105733";
    error = dsp_push_file(client, argv[4], &bad, NULL, NULL);
    if (!error) { fprintf(stderr, "a bad matricule was accepted\n"); return 1; }
    printf("bad matricule: code %u, field %s\n", dsp_error_code(error), dsp_error_field(error));
    dsp_error_free(error);

    dsp_string_free(job_id);
    dsp_string_free(unique_id);
    dsp_client_free(client);
    dsp_client_free(NULL);
    dsp_error_free(NULL);
    dsp_string_free(NULL);
    return (state == DSP_JOB_DONE && found && normal) ? 0 : 1;
}
