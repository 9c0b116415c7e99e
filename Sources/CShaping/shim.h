// libnl's qdisc APIs for shaping: Sources/CNetlink carries tbf for VF rate limits, netem lives
// here with the rest of what impairments need, so that module stays as the plugin needs it.
#ifndef VFWIRE_CSHAPING_SHIM_H
#define VFWIRE_CSHAPING_SHIM_H
#include <net/if.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/cache.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

static inline uint32_t vfw_shaping_root(void) { return TC_H_ROOT; }
static inline uint32_t vfw_shaping_handle(uint32_t major, uint32_t minor) { return TC_H_MAKE(major << 16, minor); }
static inline int vfw_shaping_create(void) { return NLM_F_CREATE | NLM_F_EXCL; }
#endif
