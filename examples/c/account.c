/*
 * A professional's account from C: activation with the Agence eSanté's
 * letter (two steps: the e-mail's code comes in between), a password
 * session, a password change.
 *
 *   gcc -std=c99 account.c -Iinclude -Ltarget/debug -ldspconnect \
 *       -Wl,-rpath,$PWD/target/debug -o account
 *   ./account SOCKET PIN activate LETTER_CODE MATRICULE EMAIL
 *   ./account SOCKET PIN confirm LETTER_CODE MATRICULE EMAIL_CODE NEW_PASSWORD NEXT_PASSWORD
 *
 * (socket "" for the default; the card is the not yet active
 * professional's, whose PIN is verified before the activation.)
 */
#include <stdio.h>
#include <string.h>

#include "dspconnect.h"

static int fail(const char *what, dsp_error *error) {
    const char *hint = dsp_error_hint(error);
    fprintf(stderr, "%s failed: [%u] %s%s%s\n", what, dsp_error_code(error),
            dsp_error_message(error), hint ? "\n  hint: " : "", hint ? hint : "");
    dsp_error_free(error);
    return 1;
}

/* A call expected to fail: prints its code, frees it. */
static int expect_error(const char *what, dsp_error *error) {
    if (!error) {
        fprintf(stderr, "%s succeeded, an error was expected\n", what);
        return 1;
    }
    printf("%s: code %u\n", what, dsp_error_code(error));
    dsp_error_free(error);
    return 0;
}

int main(int argc, char **argv) {
    int activate = argc == 7 && strcmp(argv[3], "activate") == 0;
    int confirm = argc == 9 && strcmp(argv[3], "confirm") == 0;
    if (!activate && !confirm) {
        fprintf(stderr,
                "usage: %s SOCKET PIN activate LETTER_CODE MATRICULE EMAIL\n"
                "       %s SOCKET PIN confirm LETTER_CODE MATRICULE EMAIL_CODE NEW_PASSWORD "
                "NEXT_PASSWORD\n",
                argv[0], argv[0]);
        return 2;
    }
    const char *letter = argv[4], *matricule = argv[5];
    dsp_client *client = NULL;
    dsp_error *error = dsp_connect(argv[1][0] ? argv[1] : NULL, 30000, &client);
    if (error) return fail("connect", error);

    if (activate) {
        /* Not active yet: the platform refuses the session; the PIN is verified. */
        if (expect_error("unlock before activation", dsp_unlock(client, argv[2]))) return 1;
        if (expect_error("wrong letter code",
                         dsp_account_activate(client, "WRONG-CODE-0000", matricule, argv[6],
                                              NULL, NULL)))
            return 1;
        char *sent_to = NULL, *expires = NULL;
        if ((error = dsp_account_activate(client, letter, matricule, argv[6], &sent_to, &expires)))
            return fail("activate", error);
        printf("activation code sent to %s, valid until %s\n", sent_to, expires);
        dsp_string_free(sent_to);
        dsp_string_free(expires);
    } else {
        const char *password = argv[7], *next = argv[8];
        char *ehealth_id = NULL;
        if ((error = dsp_account_activate_confirm(client, letter, matricule, argv[6], password,
                                                  &ehealth_id)))
            return fail("confirm", error);
        printf("activated %s\n", ehealth_id);
        dsp_string_free(ehealth_id);

        /* Active now, the verified card opens its session: a password
           session (less access) needs it locked first. */
        if ((error = dsp_lock(client))) return fail("lock", error);
        dsp_session_state state = DSP_SESSION_NO_CARD;
        if ((error = dsp_password_login(client, matricule, password, &state)))
            return fail("password login", error);
        printf("password session: state %u%s\n", (unsigned)state,
               state == DSP_SESSION_PASSWORD ? " (password)" : "");
        dsp_document_list *list = NULL;
        if (expect_error("documents in a password session", dsp_list(client, "1945093006704", &list)))
            return 1;
        if (expect_error("weak password", dsp_change_password(client, password, "short")))
            return 1;
        if ((error = dsp_change_password(client, password, next)))
            return fail("change password", error);
        printf("password changed\n");
        if (expect_error("old password", dsp_password_login(client, matricule, password, NULL)))
            return 1;
        if ((error = dsp_password_login(client, matricule, next, &state)))
            return fail("password login with the new password", error);
        printf("new password session: state %u\n", (unsigned)state);
    }
    dsp_client_free(client);
    return 0;
}
