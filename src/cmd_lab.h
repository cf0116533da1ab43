/* Shared by `ablab` (lab) and `ablab study`: the UI's options from the configuration. */
#ifndef ABLAB_CMD_LAB_H
#define ABLAB_CMD_LAB_H

#include "cli.h"
#include "ui.h"

/* Fills o from the effective configuration. *owned collects strings o points to (free them
 * with free() after the UI returns). Returns 0 or -1 (ENOMEM, app->err set). */
int  lab_ui_options(App *app, UiOptions *o, char *owned[3]);
/* Maps ui_run_*'s result to an exit status. */
int  lab_ui_status(App *app, int rc);

#endif
