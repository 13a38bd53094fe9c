/* Placeholder: filled by the C conformance work. */
#ifndef VSVA_UAPI_H
#define VSVA_UAPI_H
#endif
