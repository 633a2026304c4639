/* Definitions entry.c needs to link (built without ftrace flags). */
void _mcount(void) {}
int ext(int a) { return a; }
void ext_v(void *p) { (void)p; }
