// libseccomp's actions are function-like macros, and seccomp_rule_add is variadic: Swift can
// import neither, so these wrap them.
#ifndef VFWIRE_CSECCOMP_SHIM_H
#define VFWIRE_CSECCOMP_SHIM_H
#include <stddef.h>
#include <seccomp.h>
static inline uint32_t vfw_scmp_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t vfw_scmp_errno(int e) { return SCMP_ACT_ERRNO(e); }
static inline int vfw_scmp_deny(scmp_filter_ctx ctx, uint32_t action, int syscall) {
    return seccomp_rule_add_array(ctx, action, syscall, 0, NULL);
}
#endif
