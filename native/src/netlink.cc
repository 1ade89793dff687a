// The built-in pod network's link work over raw NETLINK_ROUTE sockets (no `ip` process, no
// libnl): ensure a bridge with its gateway addresses, attach a pod (a veth pair whose peer is
// created straight inside the pod's pinned netns as eth0, enslaved to the bridge, hairpin on,
// addresses and default routes set inside the netns), and delete a link by name.
//
// Host-side work runs on a libuv pool thread (which stays in the host netns). Pod-side work
// runs on a short-lived std::thread of our own that setns()es into the pod netns and exits
// (as net_stats.cc does): setns(CLONE_NEWNET) moves only the calling thread, so no Node or
// libuv thread ever leaves the host namespace.
#include <net/if.h>  // before the linux/ headers: glibc and the kernel both define IFF_*
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <napi.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "worker.h"

namespace nori {

namespace {

// An address with its prefix length, parsed from "10.89.0.1/16" or "fd00::1/64".
struct Cidr {
  int family = 0;
  unsigned char bytes[16] = {};
  int prefix = 0;
  size_t Len() const { return family == AF_INET ? 4 : 16; }
};

bool ParseAddr(const std::string& s, Cidr* out) {
  out->family = s.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  return inet_pton(out->family, s.c_str(), out->bytes) == 1;
}

bool ParseCidr(const std::string& s, Cidr* out) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  if (!ParseAddr(s.substr(0, slash), out)) return false;
  char* end = nullptr;
  long p = strtol(s.c_str() + slash + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > static_cast<long>(out->Len() * 8)) return false;
  out->prefix = static_cast<int>(p);
  return true;
}

// One netlink request under construction: header, family header, then attributes.
class NlMsg {
 public:
  NlMsg(uint16_t type, uint16_t flags) {
    memset(buf_, 0, sizeof buf_);
    Hdr()->nlmsg_len = NLMSG_LENGTH(0);
    Hdr()->nlmsg_type = type;
    Hdr()->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  }
  nlmsghdr* Hdr() { return reinterpret_cast<nlmsghdr*>(buf_); }
  void* Tail() { return buf_ + NLMSG_ALIGN(Hdr()->nlmsg_len); }

  void* Put(const void* data, size_t len) {
    void* at = Tail();
    memcpy(at, data, len);
    Hdr()->nlmsg_len = NLMSG_ALIGN(Hdr()->nlmsg_len) + static_cast<uint32_t>(NLMSG_ALIGN(len));
    return at;
  }
  rtattr* Attr(uint16_t type, const void* data, size_t len) {
    auto* a = static_cast<rtattr*>(Tail());
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    if (len) memcpy(RTA_DATA(a), data, len);
    Hdr()->nlmsg_len = NLMSG_ALIGN(Hdr()->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
  }
  rtattr* Str(uint16_t type, const std::string& s) { return Attr(type, s.c_str(), s.size() + 1); }
  rtattr* U32(uint16_t type, uint32_t v) { return Attr(type, &v, sizeof v); }
  rtattr* U8(uint16_t type, uint8_t v) { return Attr(type, &v, sizeof v); }
  rtattr* Nest(uint16_t type) { return Attr(type | NLA_F_NESTED, nullptr, 0); }
  void End(rtattr* nest) {
    nest->rta_len = static_cast<uint16_t>(static_cast<char*>(Tail()) - reinterpret_cast<char*>(nest));
  }

 private:
  alignas(nlmsghdr) char buf_[2048];
};

// A NETLINK_ROUTE socket in the netns of the thread that opens it.
class NlSock {
 public:
  NlSock() { fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }
  ~NlSock() {
    if (fd_ >= 0) close(fd_);
  }
  NlSock(const NlSock&) = delete;
  NlSock& operator=(const NlSock&) = delete;
  int OpenError() const { return fd_ < 0 ? errno : 0; }

  // Sends the request and waits for its ACK: 0, or the positive errno the kernel answered.
  int Request(NlMsg& m) {
    m.Hdr()->nlmsg_seq = ++seq_;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_, m.Hdr(), m.Hdr()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return errno;
    alignas(nlmsghdr) char reply[8192];
    for (;;) {
      ssize_t n = recv(fd_, reply, sizeof reply, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_seq != seq_) continue;
        if (h->nlmsg_type == NLMSG_ERROR) return -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        if (h->nlmsg_type == NLMSG_DONE) return 0;
      }
    }
  }

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

struct Failure {
  int err = 0;
  std::string step;
  std::string what;
};

#define NORI_TRY(expr, stepname, whatname)                 \
  do {                                                     \
    int _e = (expr);                                       \
    if (_e != 0) return Failure{_e, (stepname), (whatname)}; \
  } while (0)

int LinkIndex(const std::string& name, int* index) {
  unsigned i = if_nametoindex(name.c_str());
  if (i == 0) return errno;
  *index = static_cast<int>(i);
  return 0;
}

int SetLink(NlSock& s, int index, unsigned flags, unsigned change, int master) {
  NlMsg m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  ifi.ifi_change = change;
  m.Put(&ifi, sizeof ifi);
  if (master > 0) m.U32(IFLA_MASTER, static_cast<uint32_t>(master));
  return s.Request(m);
}

// Adds (or refreshes) an address; IPv6 ones skip duplicate address detection so they are
// usable at once (the subnet is ours: nothing else hands out its addresses).
int AddAddr(NlSock& s, int index, const Cidr& c) {
  NlMsg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(c.family);
  ifa.ifa_prefixlen = static_cast<unsigned char>(c.prefix);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<unsigned>(index);
  if (c.family == AF_INET6) ifa.ifa_flags = IFA_F_NODAD;
  m.Put(&ifa, sizeof ifa);
  m.Attr(IFA_LOCAL, c.bytes, c.Len());
  m.Attr(IFA_ADDRESS, c.bytes, c.Len());
  if (c.family == AF_INET6) m.U32(IFA_FLAGS, IFA_F_NODAD);
  return s.Request(m);
}

int AddDefaultRoute(NlSock& s, int index, const Cidr& gw) {
  NlMsg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg rt{};
  rt.rtm_family = static_cast<unsigned char>(gw.family);
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_scope = RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  m.Put(&rt, sizeof rt);
  m.Attr(RTA_GATEWAY, gw.bytes, gw.Len());
  m.U32(RTA_OIF, static_cast<uint32_t>(index));
  return s.Request(m);
}

int DeleteLinkByName(NlSock& s, const std::string& name) {
  NlMsg m(RTM_DELLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.Put(&ifi, sizeof ifi);
  m.Str(IFLA_IFNAME, name);
  return s.Request(m);
}

// ---- ensureBridge ----

Failure EnsureBridge(const std::string& name, const std::vector<Cidr>& addrs) {
  NlSock s;
  NORI_TRY(s.OpenError(), "socket", name);
  {
    NlMsg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    m.Put(&ifi, sizeof ifi);
    m.Str(IFLA_IFNAME, name);
    rtattr* info = m.Nest(IFLA_LINKINFO);
    m.Str(IFLA_INFO_KIND, "bridge");
    m.End(info);
    int e = s.Request(m);
    if (e != 0 && e != EEXIST) return Failure{e, "create bridge", name};
  }
  int index = 0;
  NORI_TRY(LinkIndex(name, &index), "if_nametoindex", name);
  for (const Cidr& c : addrs) NORI_TRY(AddAddr(s, index, c), "bridge address", name);
  NORI_TRY(SetLink(s, index, IFF_UP, IFF_UP, 0), "bridge up", name);
  return {};
}

// ---- attachPod ----

struct AttachSpec {
  std::string netns;
  std::string host_if;
  std::string pod_if;
  std::string bridge;
  std::vector<Cidr> addrs;
  std::vector<Cidr> gateways;
};

Failure ConfigureInside(int nsfd, const AttachSpec& a) {
  if (setns(nsfd, CLONE_NEWNET) != 0) return Failure{errno, "setns", a.netns};
  NlSock s;  // opened after setns: bound to the pod's netns for its whole life
  NORI_TRY(s.OpenError(), "socket", a.netns);
  int index = 0;
  NORI_TRY(LinkIndex(a.pod_if, &index), "if_nametoindex", a.pod_if);
  NORI_TRY(SetLink(s, index, IFF_UP, IFF_UP, 0), "pod link up", a.pod_if);
  for (const Cidr& c : a.addrs) NORI_TRY(AddAddr(s, index, c), "pod address", a.pod_if);
  for (const Cidr& gw : a.gateways) NORI_TRY(AddDefaultRoute(s, index, gw), "pod default route", a.pod_if);
  return {};
}

Failure AttachPod(const AttachSpec& a) {
  int nsfd = open(a.netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return Failure{errno, "open netns", a.netns};
  Failure f = [&]() -> Failure {
    NlSock s;
    NORI_TRY(s.OpenError(), "socket", a.host_if);
    for (int attempt = 0;; attempt++) {
      NlMsg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
      ifinfomsg ifi{};
      ifi.ifi_family = AF_UNSPEC;
      m.Put(&ifi, sizeof ifi);
      m.Str(IFLA_IFNAME, a.host_if);
      rtattr* info = m.Nest(IFLA_LINKINFO);
      m.Str(IFLA_INFO_KIND, "veth");
      rtattr* data = m.Nest(IFLA_INFO_DATA);
      rtattr* peer = m.Nest(VETH_INFO_PEER);
      ifinfomsg pifi{};
      pifi.ifi_family = AF_UNSPEC;
      m.Put(&pifi, sizeof pifi);
      m.Str(IFLA_IFNAME, a.pod_if);
      m.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(nsfd));
      m.End(peer);
      m.End(data);
      m.End(info);
      int e = s.Request(m);
      // A veth of this name left by a crashed attempt of the same sandbox: replace it once.
      if (e == EEXIST && attempt == 0) {
        int d = DeleteLinkByName(s, a.host_if);
        if (d != 0 && d != ENODEV) return Failure{d, "delete stale veth", a.host_if};
        continue;
      }
      if (e != 0) return Failure{e, "create veth", a.host_if};
      break;
    }
    int host = 0, bridge = 0;
    NORI_TRY(LinkIndex(a.host_if, &host), "if_nametoindex", a.host_if);
    NORI_TRY(LinkIndex(a.bridge, &bridge), "if_nametoindex", a.bridge);
    NORI_TRY(SetLink(s, host, IFF_UP, IFF_UP, bridge), "enslave veth", a.host_if);
    {
      // Hairpin on the bridge port (what the bridge plugin's hairpinMode sets): a pod reaching
      // itself through a hostPort gets its packets back out of the port they came in on.
      NlMsg m(RTM_SETLINK, 0);  // PF_BRIDGE handles SETLINK only (rtnl_bridge_setlink)
      ifinfomsg ifi{};
      ifi.ifi_family = AF_BRIDGE;
      ifi.ifi_index = host;
      m.Put(&ifi, sizeof ifi);
      rtattr* prot = m.Nest(IFLA_PROTINFO);
      m.U8(IFLA_BRPORT_MODE, 1);
      m.End(prot);
      NORI_TRY(s.Request(m), "hairpin", a.host_if);
    }
    Failure inside;
    try {
      std::thread t([&]() { inside = ConfigureInside(nsfd, a); });
      t.join();
    } catch (const std::system_error& e) {
      return Failure{e.code().value(), "pthread_create", a.netns};
    }
    return inside;
  }();
  close(nsfd);
  return f;
}

// ---- JS glue ----

std::vector<Cidr> CidrList(Napi::Env env, const Napi::Value& v, const std::string& what, bool with_prefix) {
  std::vector<Cidr> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) ThrowTypeError(env, what + " must be an array");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    std::string s = CheckedString(env, arr.Get(i), what + "[]");
    Cidr c;
    if (!(with_prefix ? ParseCidr(s, &c) : ParseAddr(s, &c))) ThrowTypeError(env, what + ": \"" + s + "\" is not an address" + (with_prefix ? "/prefix" : ""));
    out.push_back(c);
  }
  return out;
}

std::string IfName(Napi::Env env, const Napi::Value& v, const std::string& what) {
  std::string s = CheckedString(env, v, what);
  if (s.empty() || s.size() >= IFNAMSIZ || s.find('/') != std::string::npos) ThrowTypeError(env, what + ": \"" + s + "\" is not an interface name");
  return s;
}

TaskResult ToResult(const Failure& f) {
  if (f.err == 0) return {};
  SysError e;
  e.err = f.err;
  e.syscall = f.step;  // reads "EEXIST: file exists, create veth 'veth1234'"
  e.step = f.step;
  e.path = f.what;
  return {e, std::nullopt};
}

// netEnsureBridge(name: string, addresses: string[]): Promise<void>
Napi::Value NetEnsureBridge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfName(env, info[0], "name");
  std::vector<Cidr> addrs = CidrList(env, info[1], "addresses", true);
  return RunAsync(env, [name, addrs]() { return ToResult(EnsureBridge(name, addrs)); });
}

// netAttachPod({ netns, hostIf, podIf, bridge, addresses, gateways }): Promise<void>
Napi::Value NetAttachPod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ObjectArg(info, 0, "spec");
  AttachSpec a;
  a.netns = CheckedString(env, o.Get("netns"), "netns");
  a.host_if = IfName(env, o.Get("hostIf"), "hostIf");
  a.pod_if = IfName(env, o.Get("podIf"), "podIf");
  a.bridge = IfName(env, o.Get("bridge"), "bridge");
  a.addrs = CidrList(env, o.Get("addresses"), "addresses", true);
  a.gateways = CidrList(env, o.Get("gateways"), "gateways", false);
  return RunAsync(env, [a]() { return ToResult(AttachPod(a)); });
}

// netDeleteLink(name: string): Promise<number> — 1 when deleted, 0 when there was none.
Napi::Value NetDeleteLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfName(env, info[0], "name");
  return RunAsync(env, [name]() -> TaskResult {
    NlSock s;
    if (int e = s.OpenError()) return ToResult(Failure{e, "socket", name});
    int e = DeleteLinkByName(s, name);
    if (e == ENODEV) return {std::nullopt, 0};
    if (e != 0) return ToResult(Failure{e, "delete link", name});
    return {std::nullopt, 1};
  });
}

}  // namespace

void RegisterNetlinkFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("netEnsureBridge", Napi::Function::New(env, NetEnsureBridge, "netEnsureBridge"));
  exports.Set("netAttachPod", Napi::Function::New(env, NetAttachPod, "netAttachPod"));
  exports.Set("netDeleteLink", Napi::Function::New(env, NetDeleteLink, "netDeleteLink"));
}

}  // namespace nori
