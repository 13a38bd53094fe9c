#include "vsva_uapi.h"
int vsva_conformance_placeholder(void) { return 0; }
