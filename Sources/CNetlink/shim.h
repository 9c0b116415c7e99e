// What Swift cannot import from libnl and libc directly: libnl's headers themselves, plus
// setns/CLONE_NEWNET and kernel constants defined as function-like or cast macros that Swift's
// importer skips. setns is declared here rather than by defining _GNU_SOURCE, which would give
// glibc's headers a second, conflicting shape next to Swift's own Glibc module.
#ifndef VFWIRE_CNETLINK_SHIM_H
#define VFWIRE_CNETLINK_SHIM_H
#include <net/if.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/cache.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/sriov.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

extern int setns(int fd, int nstype);
extern int unshare(int flags);
#define VFW_CLONE_NEWNET 0x40000000
static inline int vfw_setns_net(int fd) { return setns(fd, VFW_CLONE_NEWNET); }
static inline int vfw_unshare_net(void) { return unshare(VFW_CLONE_NEWNET); }
static inline unsigned int vfw_iff_up(void) { return IFF_UP; }
static inline int vfw_nlm_f_create(void) { return NLM_F_CREATE; }
static inline int vfw_nlm_f_excl(void) { return NLM_F_EXCL; }
static inline int vfw_nlm_f_replace(void) { return NLM_F_REPLACE; }
static inline uint32_t vfw_tc_h_root(void) { return TC_H_ROOT; }
#endif
