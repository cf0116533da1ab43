/* Keys as the UI sees them, independent of curses (so the line editor and key maps are pure and
 * unit-tested). screen.c translates curses input into UiKey in one place. */
#ifndef UI_KEYS_H
#define UI_KEYS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    UK_NONE = 0,
    UK_CHAR,            /* a printable character in .ch (Alt held: .alt) */
    UK_CTRL,            /* Ctrl + letter: .ch is 'a'..'z' (Ctrl-J, Ctrl-M come as UK_NEWLINE/UK_ENTER) */
    UK_ENTER, UK_NEWLINE, /* Enter; Ctrl-J or Alt-Enter (insert a line break) */
    UK_ESC, UK_TAB, UK_BTAB, UK_BACKSPACE, UK_DELETE,
    UK_LEFT, UK_RIGHT, UK_UP, UK_DOWN, UK_HOME, UK_END, UK_PGUP, UK_PGDN,
    UK_F1, UK_F2, UK_F3, UK_F4, UK_F5, UK_F6, UK_F7, UK_F8, UK_F9, UK_F10,
    UK_PASTE_BEGIN, UK_PASTE_END, /* bracketed paste markers */
    UK_RESIZE,
} UiKeyCode;

typedef struct {
    UiKeyCode code;
    uint32_t ch;        /* UK_CHAR: the code point; UK_CTRL: the letter */
    bool alt;
} UiKey;

#endif
