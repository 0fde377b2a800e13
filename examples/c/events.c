/*
 * Events by callback, job status, replacement, retrieval into memory and
 * the HPD directory from C: connect to dspconnectd, register an event
 * callback, unlock the card, push a report, poll its job without blocking,
 * read it back into memory, replace it (RPLC), look up a colleague.
 *
 *   gcc -std=c99 events.c -Iinclude -Ltarget/debug -ldspconnect -lpthread \
 *       -Wl,-rpath,$PWD/target/debug -o events
 *   ./events /run/user/1000/dspconnect/dspconnectd.sock 1234 1945093006704 report.pdf
 *
 * (socket "" for the default; the PIN is a sandbox test card's.)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dspconnect.h"

static int fail(const char *what, dsp_error *error) {
    const char *hint = dsp_error_hint(error);
    fprintf(stderr, "%s failed: [%u] %s%s%s\n", what, dsp_error_code(error),
            dsp_error_message(error), hint ? "\n  hint: " : "", hint ? hint : "");
    dsp_error_free(error);
    return 1;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* What the callback saw; it runs on the library's event thread. */
struct seen {
    pthread_mutex_t lock;
    dsp_client *client;       /* to call back into the library from the callback */
    int events, sessions, jobs, notices;
    int status_from_callback; /* 1 ok, -1 failed */
    int after_free;           /* callbacks after dsp_client_free returned */
    int freed;
    char job_done[128];       /* a job id seen in a "done" job event */
};

static void on_event(const char *event_json, void *user_data) {
    struct seen *seen = user_data;
    pthread_mutex_lock(&seen->lock);
    if (seen->freed) seen->after_free++;
    seen->events++;
    if (strstr(event_json, "\"kind\":\"session\"")) seen->sessions++;
    if (strstr(event_json, "\"kind\":\"notice\"")) seen->notices++;
    if (strstr(event_json, "\"kind\":\"job\"")) {
        seen->jobs++;
        const char *id = strstr(event_json, "\"job_id\":\"");
        if (id && strstr(event_json, "\"state\":\"done\"")) {
            id += strlen("\"job_id\":\"");
            size_t n = strcspn(id, "\"");
            if (n < sizeof seen->job_done) {
                memcpy(seen->job_done, id, n);
                seen->job_done[n] = '\0';
            }
        }
    }
    dsp_client *client = seen->client;
    int ask = client != NULL && seen->status_from_callback == 0;
    pthread_mutex_unlock(&seen->lock);
    if (ask) {
        /* Any call is allowed from the callback, on the same client too. */
        dsp_status status;
        dsp_error *error = dsp_status_get(client, &status);
        pthread_mutex_lock(&seen->lock);
        seen->status_from_callback = error ? -1 : 1;
        pthread_mutex_unlock(&seen->lock);
        dsp_error_free(error);
    }
}

static unsigned char *read_file(const char *path, size_t *length) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(n > 0 ? (size_t)n : 1);
    *length = fread(bytes, 1, (size_t)n, f);
    fclose(f);
    return bytes;
}

static const char *job_state_name(dsp_job_state s) {
    switch (s) {
        case DSP_JOB_QUEUED: return "Queued";
        case DSP_JOB_UPLOADING: return "Uploading";
        case DSP_JOB_WAITING_FOR_SESSION: return "WaitingForSession";
        case DSP_JOB_RETRY_WAITING: return "RetryWaiting";
        case DSP_JOB_DONE: return "Done";
        case DSP_JOB_FAILED: return "Failed";
        case DSP_JOB_CONFLICT: return "Conflict";
    }
    return "?";
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SOCKET PIN PATIENT FILE\n", argv[0]);
        return 2;
    }
    const char *patient = argv[3];
    static struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

    dsp_client *client = NULL;
    dsp_error *error = dsp_connect(argv[1][0] ? argv[1] : NULL, 30000, &client);
    if (error) return fail("connect", error);
    seen.client = client;
    /* Start locked, so that the unlock below changes the session (it may
       already be locked: that error does not matter). */
    dsp_error_free(dsp_lock(client));
    if ((error = dsp_set_event_callback(client, on_event, &seen))) return fail("callback", error);
    if ((error = dsp_unlock(client, argv[2]))) return fail("unlock", error);

    /* Push, then poll the job without blocking. */
    dsp_push_metadata metadata = {
        .patient = patient,
        .title = "Bilan (C, events)",
        .mode = DSP_MODE_NORMAL,
        .patient_informed = true,
        .mime_type = NULL,
    };
    char *job_id = NULL, *unique_id = NULL;
    if ((error = dsp_push_file(client, argv[4], &metadata, &job_id, &unique_id)))
        return fail("push", error);
    dsp_job_info info;
    int polls = 0;
    for (;;) {
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if ((error = dsp_job_status(client, job_id, &info))) return fail("job status", error);
        polls++;
        if (info.state == DSP_JOB_DONE || info.state == DSP_JOB_FAILED ||
            info.state == DSP_JOB_CONFLICT || polls > 600)
            break;
        sleep_ms(100);
    }
    printf("job status %s after %d polls: attempts %u, %llu of %llu bytes, error %u\n",
           job_state_name(info.state), polls, info.attempts, (unsigned long long)info.sent,
           (unsigned long long)info.document_size, info.error_code);

    /* The callback saw the job end (events may trail the status a little). */
    int done_seen = 0;
    for (int i = 0; i < 100 && !done_seen; i++) {
        pthread_mutex_lock(&seen.lock);
        done_seen = strcmp(seen.job_done, job_id) == 0;
        pthread_mutex_unlock(&seen.lock);
        if (!done_seen) sleep_ms(100);
    }
    pthread_mutex_lock(&seen.lock);
    printf("callback: session events %d, job events %d, done event for the job %s, "
           "status from the callback %s\n",
           seen.sessions, seen.jobs, done_seen ? "yes" : "no",
           seen.status_from_callback == 1 ? "ok" : "not ok");
    pthread_mutex_unlock(&seen.lock);

    /* Read it back into memory: the same bytes. */
    size_t file_length = 0;
    unsigned char *file = read_file(argv[4], &file_length);
    if (!file) { fprintf(stderr, "cannot read %s\n", argv[4]); return 1; }
    uint8_t *data = NULL;
    uintptr_t length = 0;
    char *mime = NULL;
    if ((error = dsp_get_to_buffer(client, patient, unique_id, 16u << 20, &data, &length, &mime)))
        return fail("get to buffer", error);
    printf("get_to_buffer: %zu bytes, %s, %s\n", (size_t)length, mime,
           length == file_length && memcmp(data, file, file_length) == 0 ? "identical"
                                                                         : "DIFFERENT");
    dsp_buffer_free(data);
    dsp_string_free(mime);
    error = dsp_get_to_buffer(client, patient, unique_id, 100, &data, &length, NULL);
    if (!error) { fprintf(stderr, "max_size was ignored\n"); return 1; }
    printf("too large: code %u, data %s\n", dsp_error_code(error), data ? "set" : "NULL");
    dsp_error_free(error);

    /* Replace it (RPLC) by corrected content. */
    size_t corrected_length = file_length + 16;
    unsigned char *corrected = malloc(corrected_length);
    memcpy(corrected, file, file_length);
    memcpy(corrected + file_length, "\n% corrected v2\n", 16);
    dsp_push_metadata replacement = metadata;
    replacement.title = "Bilan (C, events) corrige";
    char *job2 = NULL, *unique2 = NULL;
    if ((error = dsp_replace_buffer(client, unique_id, corrected, corrected_length, &replacement,
                                    &job2, &unique2)))
        return fail("replace", error);
    dsp_job_state state;
    if ((error = dsp_job_wait(client, job2, 60000, &state))) return fail("job wait", error);
    printf("replaced %s by %s: %s\n", unique_id, unique2, job_state_name(state));
    free(corrected);
    free(file);

    dsp_document_list *list = NULL;
    if ((error = dsp_list(client, patient, &list))) return fail("list", error);
    int old_listed = 0, new_listed = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->documents[i].unique_id, unique_id) == 0) old_listed = 1;
        if (strcmp(list->documents[i].unique_id, unique2) == 0) new_listed = 1;
    }
    printf("listed: original %s, replacement %s\n", old_listed ? "yes" : "no",
           new_listed ? "yes" : "no");
    dsp_document_list_free(list);

    /* The HPD directory. */
    dsp_professional_list *found = NULL;
    if ((error = dsp_hpd_lookup(client, "SBX1002", NULL, &found))) return fail("hpd", error);
    for (size_t i = 0; i < found->count; i++)
        printf("hpd: %s %s (%s)\n", found->professionals[i].ehealth_id,
               found->professionals[i].name,
               found->professionals[i].profession ? found->professionals[i].profession : "-");
    dsp_professional_list_free(found);

    /* An unknown job: a specific code. */
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    error = dsp_job_status(client, "job-does-not-exist", &info);
    if (!error) { fprintf(stderr, "an unknown job has a status\n"); return 1; }
    printf("unknown job: code %u\n", dsp_error_code(error));
    dsp_error_free(error);

    /* Unregistered: no more callbacks, even for new events. */
    pthread_mutex_lock(&seen.lock);
    seen.client = NULL;
    pthread_mutex_unlock(&seen.lock);
    if ((error = dsp_set_event_callback(client, NULL, NULL))) return fail("unregister", error);
    pthread_mutex_lock(&seen.lock);
    int before = seen.events;
    pthread_mutex_unlock(&seen.lock);
    if ((error = dsp_lock(client))) return fail("lock", error);
    sleep_ms(300);
    pthread_mutex_lock(&seen.lock);
    printf("after unregistering: %d new events\n", seen.events - before);
    pthread_mutex_unlock(&seen.lock);

    /* Registered again, then the client freed: nothing after free returns. */
    if ((error = dsp_set_event_callback(client, on_event, &seen))) return fail("callback", error);
    if ((error = dsp_unlock(client, argv[2]))) return fail("unlock", error);
    /* Locked again (events on their way while the client is freed), so
       that the next run's unlock changes the session too. */
    if ((error = dsp_lock(client))) return fail("lock", error);
    dsp_client_free(client);
    pthread_mutex_lock(&seen.lock);
    seen.freed = 1;
    pthread_mutex_unlock(&seen.lock);
    sleep_ms(300);
    pthread_mutex_lock(&seen.lock);
    printf("callbacks after dsp_client_free: %d\n", seen.after_free);
    pthread_mutex_unlock(&seen.lock);

    dsp_string_free(job_id);
    dsp_string_free(unique_id);
    dsp_string_free(job2);
    dsp_string_free(unique2);
    return 0;
}
