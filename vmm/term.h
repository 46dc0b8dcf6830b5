/* The host terminal: raw mode for the guest console, restored on every exit path. */
#ifndef MINIVMM_TERM_H
#define MINIVMM_TERM_H

/* If @fd is a terminal, switch it to raw mode (signals still work: Ctrl-C ends minivmm). */
void term__raw(int fd);
/* Restore the saved terminal mode; safe to call more than once and from signal handlers. */
void term__restore(void);

#endif
