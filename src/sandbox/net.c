/* net — loopback only. A pod's net namespace is created empty by clone(2);
 * raising lo is a single SIOCSIFFLAGS ioctl (netdevice(7)), no netlink needed. */
#include "sandbox/net.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/cleanup.h"

int net_lo_up(struct kcr_err *err)
{
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "socket for lo setup");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "get flags of 'lo'");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "bring 'lo' up");
    return 0;
}

int net_count_interfaces(struct kcr_err *err)
{
    struct if_nameindex *ifs = if_nameindex();
    if (!ifs)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "list interfaces");
    int n = 0;
    while (ifs[n].if_index != 0)
        n++;
    if_freenameindex(ifs);
    return n;
}
