/* The terminal: checks before curses starts, signal handlers installed before initscr (ncurses'
 * own SIGINT handler would exit without our cleanup), key translation, colours. */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ui_int.h"

static volatile sig_atomic_t g_signal;
static bool g_open, g_color;
static SCREEN *g_scr;
static int g_attr[AT_NATTR];

enum { KEY_PASTE_BEGIN = KEY_MAX + 1, KEY_PASTE_END = KEY_MAX + 2 };

static void on_signal(int sig) { g_signal = sig; }

void scr_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;    /* no SA_RESTART: a blocked read returns so the loop sees the flag */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int scr_signal(void) { return g_signal; }

int scr_check_terminal(LabErr *e) {
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))
        return lab_err(e, LAB_EINVAL,
                       "the lab is interactive and needs a terminal (stdin/stdout is not one); "
                       "for a batch run use `ablab run --a PATH --b PATH --prompts FILE`");
    const char *term = getenv("TERM");
    if (!term || !*term || !strcmp(term, "dumb"))
        return lab_err(e, LAB_EUNSUPPORTED,
                       "TERM=%s cannot draw the lab (it needs cursor movement); use a real terminal, "
                       "or `ablab run --a PATH --b PATH --prompts FILE` for a batch run",
                       term && *term ? term : "(unset)");
    return 0;
}

static bool codeset_utf8(void) {
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

int scr_locale(LabErr *e) {
    const char *was = setlocale(LC_ALL, "");
    if (codeset_utf8()) return 0;
    char asked[64];
    const char *lc_all = getenv("LC_ALL"), *lc_ctype = getenv("LC_CTYPE"), *lang = getenv("LANG");
    if (lc_all && *lc_all) snprintf(asked, sizeof asked, "LC_ALL=%s", lc_all);
    else if (lc_ctype && *lc_ctype) snprintf(asked, sizeof asked, "LC_CTYPE=%s", lc_ctype);
    else if (lang && *lang) snprintf(asked, sizeof asked, "LANG=%s", lang);
    else snprintf(asked, sizeof asked, "%s", was ? "no LANG or LC_* set" : "an unknown locale");
    /* only the character type changes: messages, numbers and collation stay as the user set them */
    static const char *const utf8[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8"};
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++)
        if (setlocale(LC_CTYPE, utf8[i]) && codeset_utf8()) {
            LOG_I("locale: %s is not UTF-8; the lab reads and draws text as %s", asked, utf8[i]);
            return 0;
        }
    return lab_err(e, LAB_EUNSUPPORTED,
                   "the locale (%s) is not UTF-8 and no UTF-8 locale is installed, so typed text would be lost: "
                   "install one and set LANG=C.UTF-8 (see `locale -a`)", asked);
}

static void setup_attrs(void) {
    const char *nc = getenv("NO_COLOR");
    g_color = has_colors() && !(nc && *nc);   /* https://no-color.org: any non-empty value */
    for (int i = 0; i < AT_NATTR; i++) g_attr[i] = A_NORMAL;
    g_attr[AT_TITLE] = A_REVERSE | A_BOLD;
    g_attr[AT_STATUS] = A_REVERSE;
    g_attr[AT_KEY] = A_BOLD;
    g_attr[AT_HEAD_A] = A_BOLD | A_UNDERLINE;
    g_attr[AT_HEAD_B] = A_BOLD | A_UNDERLINE;
    g_attr[AT_DIM] = A_DIM;
    g_attr[AT_ERR] = A_BOLD;
    g_attr[AT_OK] = A_BOLD;
    g_attr[AT_SEL] = A_REVERSE;
    g_attr[AT_BAR_A] = A_REVERSE;
    g_attr[AT_BAR_B] = A_REVERSE;
    g_attr[AT_BAR_CI] = A_BOLD;
    if (!g_color) return;
    start_color();
    use_default_colors();
    init_pair(1, COLOR_BLACK, COLOR_CYAN);
    init_pair(2, COLOR_CYAN, -1);
    init_pair(3, COLOR_MAGENTA, -1);
    init_pair(4, COLOR_RED, -1);
    init_pair(5, COLOR_GREEN, -1);
    init_pair(6, COLOR_YELLOW, -1);
    init_pair(7, COLOR_BLACK, COLOR_WHITE);
    g_attr[AT_TITLE] = COLOR_PAIR(1) | A_BOLD;
    g_attr[AT_STATUS] = COLOR_PAIR(7);
    g_attr[AT_KEY] = COLOR_PAIR(7) | A_BOLD;
    g_attr[AT_HEAD_A] = COLOR_PAIR(2) | A_BOLD;
    g_attr[AT_HEAD_B] = COLOR_PAIR(3) | A_BOLD;
    g_attr[AT_ERR] = COLOR_PAIR(4) | A_BOLD;
    g_attr[AT_OK] = COLOR_PAIR(5) | A_BOLD;
    g_attr[AT_BAR_A] = COLOR_PAIR(2) | A_REVERSE;
    g_attr[AT_BAR_B] = COLOR_PAIR(3) | A_REVERSE;
    g_attr[AT_BAR_CI] = COLOR_PAIR(6) | A_BOLD;
}

int scr_attr(UiAttr a) { return g_attr[a]; }

int scr_open(LabErr *e) {
    if (scr_check_terminal(e)) return -1;
    /* newterm rather than initscr: it returns NULL instead of exiting on an unknown TERM */
    g_scr = newterm(NULL, stdout, stdin);
    if (!g_scr) return lab_err(e, LAB_EUNSUPPORTED, "TERM=%s: the terminal description could not be loaded", getenv("TERM"));
    set_term(g_scr);
    g_open = true;
    raw();                  /* Ctrl-C arrives as a key (handled like SIGINT), Ctrl-S/Q reach us */
    noecho();
    nonl();                 /* Enter (\r) and Ctrl-J (\n) stay different */
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    setup_attrs();
    /* bracketed paste: the terminal wraps pastes in ESC[200~ ... ESC[201~ */
    define_key("\033[200~", KEY_PASTE_BEGIN);
    define_key("\033[201~", KEY_PASTE_END);
    fputs("\033[?2004h", stdout);
    fflush(stdout);
    return 0;
}

void scr_close(void) {
    if (!g_open) return;
    fputs("\033[?2004l", stdout);
    fflush(stdout);
    curs_set(1);
    endwin();
    delscreen(g_scr);
    g_scr = NULL;
    g_open = false;
}

bool scr_is_open(void) { return g_open; }

bool scr_read_key(UiKey *k, int timeout_ms) {
    memset(k, 0, sizeof *k);
    timeout(timeout_ms);
    wint_t ch;
    int rc = get_wch(&ch);
    if (rc == ERR) return false;
    if (rc == KEY_CODE_YES) {
        switch (ch) {
        case KEY_LEFT: k->code = UK_LEFT; break;
        case KEY_RIGHT: k->code = UK_RIGHT; break;
        case KEY_UP: k->code = UK_UP; break;
        case KEY_DOWN: k->code = UK_DOWN; break;
        case KEY_HOME: k->code = UK_HOME; break;
        case KEY_END: k->code = UK_END; break;
        case KEY_PPAGE: k->code = UK_PGUP; break;
        case KEY_NPAGE: k->code = UK_PGDN; break;
        case KEY_BACKSPACE: k->code = UK_BACKSPACE; break;
        case KEY_DC: k->code = UK_DELETE; break;
        case KEY_ENTER: k->code = UK_ENTER; break;
        case KEY_BTAB: k->code = UK_BTAB; break;
        case KEY_RESIZE: k->code = UK_RESIZE; break;
        case KEY_PASTE_BEGIN: k->code = UK_PASTE_BEGIN; break;
        case KEY_PASTE_END: k->code = UK_PASTE_END; break;
        default:
            if (ch >= KEY_F(1) && ch <= KEY_F(10)) k->code = (UiKeyCode)(UK_F1 + (int)(ch - KEY_F(1)));
            else return false;
        }
        return true;
    }
    if (ch == 27) {
        /* Esc alone, or Alt+key (ESC followed at once by the key) */
        timeout(0);
        wint_t c2;
        int rc2 = get_wch(&c2);
        if (rc2 == OK && c2 != 27 && c2 >= 32 && c2 != 127) {
            k->code = UK_CHAR;
            k->ch = (uint32_t)c2;
            k->alt = true;
            return true;
        }
        if (rc2 == OK && (c2 == '\r' || c2 == '\n')) { k->code = UK_NEWLINE; return true; }
        /* anything else is the next key on its own (Esc then F2 typed quickly) */
        if (rc2 == KEY_CODE_YES) ungetch((int)c2);
        else if (rc2 == OK) unget_wch((wchar_t)c2);
        k->code = UK_ESC;
        return true;
    }
    switch (ch) {
    case '\r': k->code = UK_ENTER; return true;
    case '\n': k->code = UK_NEWLINE; return true;
    case '\t': k->code = UK_TAB; return true;
    case 127: case 8: k->code = UK_BACKSPACE; return true;
    default: break;
    }
    if (ch < 32) {
        k->code = UK_CTRL;
        k->ch = (uint32_t)('a' + ch - 1);
        return true;
    }
    k->code = UK_CHAR;
    k->ch = (uint32_t)ch;
    return true;
}

void scr_osc52(const char *text, size_t n) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Buf b = {0};
    buf_puts(&b, "\033]52;c;");
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
        buf_append(&b, q, 4);
    }
    buf_puts(&b, "\007");
    if (b.data) {
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
    }
    buf_free(&b);
}
