// Read-only rtnetlink dumps for the verbose status view (src/inspect/network.ts): every link of
// a netns with its kind, peer index, master and addresses — what `ip -j -d addr show` prints,
// without starting `ip` or `nsenter` per call.
//
// The host's netns is read on the libuv pool thread (which never leaves it). A pod's netns is
// read from a short-lived std::thread of our own that setns()es into it and exits (as
// netlink.cc and net_stats.cc do): setns(CLONE_NEWNET) moves only the calling thread.

#include <net/if.h>  // before the linux/ headers: glibc and the kernel both define IFF_*
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <napi.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "errors.h"
#include "exports.h"

namespace nori {
namespace {

struct AddrInfo {
  std::string family;  // "inet" / "inet6", as ip -j names them
  std::string local;
  int prefixlen = 0;
};

struct LinkInfo {
  int ifindex = 0;
  std::string ifname;
  int link_index = 0;  // IFLA_LINK (a veth's peer index); 0 when absent
  std::string address;
  unsigned mtu = 0;
  int master = 0;
  int operstate = -1;
  std::string kind;
  std::vector<AddrInfo> addrs;
};

struct Dumped {
  int err = 0;
  std::string step;
  std::vector<LinkInfo> links;
};

constexpr int kMore = -1;

// Sends `req` and hands each answer carrying its sequence number to `on`, until `on` returns a
// result (0 or an errno); kMore asks for the next answer.
int Exchange(int fd, const nlmsghdr* req, const std::function<int(nlmsghdr*)>& on) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, req, req->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return errno;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(m, static_cast<unsigned>(n)); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_seq != req->nlmsg_seq) continue;
      int r = on(m);
      if (r != kMore) return r;
    }
  }
}

int ErrorOf(const nlmsghdr* m) {
  return -static_cast<const nlmsgerr*>(NLMSG_DATA(m))->error;
}

// Sends one NLM_F_DUMP request and hands each answer to `each` until NLMSG_DONE.
int Dump(int fd, uint16_t type, const void* body, size_t len, const std::function<void(nlmsghdr*)>& each) {
  alignas(nlmsghdr) char req[NLMSG_SPACE(sizeof(ifinfomsg))] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(req);
  h->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(len));
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = type;
  memcpy(NLMSG_DATA(h), body, len);
  return Exchange(fd, h, [&](nlmsghdr* m) {
    if (m->nlmsg_type == NLMSG_DONE) return 0;
    if (m->nlmsg_type == NLMSG_ERROR) {
      int e = ErrorOf(m);
      return e != 0 ? e : kMore;
    }
    each(m);
    return kMore;
  });
}

std::string Mac(const unsigned char* p, size_t len) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < len; i++) {
    snprintf(b, sizeof b, i ? ":%02x" : "%02x", p[i]);
    s += b;
  }
  return s;
}

// One RTM_NEWLINK message as a LinkInfo (no addresses yet).
LinkInfo ParseLink(nlmsghdr* m) {
  auto* i = static_cast<ifinfomsg*>(NLMSG_DATA(m));
  LinkInfo l;
  l.ifindex = i->ifi_index;
  int len = static_cast<int>(IFLA_PAYLOAD(m));
  for (auto* a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
      case IFLA_IFNAME: l.ifname = static_cast<const char*>(RTA_DATA(a)); break;
      case IFLA_LINK: l.link_index = static_cast<int>(*static_cast<uint32_t*>(RTA_DATA(a))); break;
      case IFLA_ADDRESS: l.address = Mac(static_cast<unsigned char*>(RTA_DATA(a)), RTA_PAYLOAD(a)); break;
      case IFLA_MTU: l.mtu = *static_cast<uint32_t*>(RTA_DATA(a)); break;
      case IFLA_MASTER: l.master = static_cast<int>(*static_cast<uint32_t*>(RTA_DATA(a))); break;
      case IFLA_OPERSTATE: l.operstate = *static_cast<uint8_t*>(RTA_DATA(a)); break;
      case IFLA_LINKINFO: {
        int nlen = static_cast<int>(RTA_PAYLOAD(a));
        for (auto* n = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(n, nlen); n = RTA_NEXT(n, nlen)) {
          if (n->rta_type == IFLA_INFO_KIND) l.kind = static_cast<const char*>(RTA_DATA(n));
        }
        break;
      }
      default: break;
    }
  }
  return l;
}

// Adds each IPv4/IPv6 address of the links in `by_index` (ifindex → position in links) to its
// link. With `only` > 0 the kernel is asked for that link's addresses alone (strict checking).
int DumpAddrs(int fd, std::vector<LinkInfo>* links, const std::map<int, size_t>& by_index, int only) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  ifa.ifa_index = static_cast<uint32_t>(only > 0 ? only : 0);
  return Dump(fd, RTM_GETADDR, &ifa, sizeof ifa, [&](nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWADDR) return;
    auto* i = static_cast<ifaddrmsg*>(NLMSG_DATA(m));
    auto it = by_index.find(static_cast<int>(i->ifa_index));
    if (it == by_index.end() || (i->ifa_family != AF_INET && i->ifa_family != AF_INET6)) return;
    const void* local = nullptr;
    const void* address = nullptr;
    int len = static_cast<int>(IFA_PAYLOAD(m));
    for (auto* a = IFA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == IFA_LOCAL) local = RTA_DATA(a);
      if (a->rta_type == IFA_ADDRESS) address = RTA_DATA(a);
    }
    // What ip prints as "local": IFA_LOCAL when given (IPv4), else IFA_ADDRESS (IPv6).
    const void* shown = local ? local : address;
    if (!shown) return;
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(i->ifa_family, shown, text, sizeof text);
    (*links)[it->second].addrs.push_back(AddrInfo{i->ifa_family == AF_INET ? "inet" : "inet6", text, i->ifa_prefixlen});
  });
}

Dumped DumpHere() {
  Dumped d;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Dumped{errno, "socket", {}};
  std::map<int, size_t> by_index;
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  int e = Dump(fd, RTM_GETLINK, &ifi, sizeof ifi, [&](nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) return;
    LinkInfo l = ParseLink(m);
    by_index[l.ifindex] = d.links.size();
    d.links.push_back(std::move(l));
  });
  if (e != 0) {
    close(fd);
    return Dumped{e, "dump links", {}};
  }
  e = DumpAddrs(fd, &d.links, by_index, 0);
  close(fd);
  if (e != 0) return Dumped{e, "dump addresses", {}};
  return d;
}

// RTM_GETLINK for one ifindex (no dump): 0 and the link, or the errno (ENODEV when gone).
int GetLink(int fd, int ifindex, LinkInfo* out) {
  struct {
    nlmsghdr h;
    ifinfomsg i;
  } req{};
  static uint32_t seq = 1000;
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = ++seq;
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = ifindex;
  return Exchange(fd, &req.h, [&](nlmsghdr* m) {
    if (m->nlmsg_type == NLMSG_ERROR) {
      int e = ErrorOf(m);
      return e != 0 ? e : ENODEV;
    }
    if (m->nlmsg_type != RTM_NEWLINK) return kMore;
    *out = ParseLink(m);
    return 0;
  });
}

// The host's links with these ifindexes (a pod's veth peers), the links they are enslaved to,
// and those masters' addresses: asked one by one instead of dumping every link and address of a
// node that has one veth per pod. A link that is gone is left out.
Dumped HostLinks(const std::vector<int>& indexes) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Dumped{errno, "socket", {}};
  int one = 1;
  bool strict = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) == 0;
  Dumped d;
  std::map<int, size_t> by_index;
  auto get = [&](int idx) -> int {
    if (idx <= 0 || by_index.count(idx)) return 0;
    LinkInfo l;
    int e = GetLink(fd, idx, &l);
    if (e == ENODEV) return 0;
    if (e != 0) return e;
    by_index[l.ifindex] = d.links.size();
    d.links.push_back(std::move(l));
    return 0;
  };
  int e = 0;
  for (int idx : indexes) if (e == 0) e = get(idx);
  std::vector<int> masters;
  for (const LinkInfo& l : d.links) if (l.master > 0) masters.push_back(l.master);
  for (int idx : masters) if (e == 0) e = get(idx);
  for (int idx : masters) {
    if (e != 0) break;
    std::map<int, size_t> one_link{{idx, by_index[idx]}};
    e = DumpAddrs(fd, &d.links, one_link, strict ? idx : 0);
  }
  close(fd);
  if (e != 0) return Dumped{e, "get links", {}};
  return d;
}

Dumped DumpIn(const std::string& netns) {
  int nsfd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return Dumped{errno, "open netns", {}};
  Dumped d;
  try {
    std::thread t([&]() {
      if (setns(nsfd, CLONE_NEWNET) != 0) {
        d = Dumped{errno, "setns", {}};
        return;
      }
      d = DumpHere();
    });
    t.join();
  } catch (const std::system_error& e) {
    d = Dumped{e.code().value(), "pthread_create", {}};
  }
  close(nsfd);
  return d;
}

const char* OperState(int s) {
  static const char* names[] = {"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"};
  return s >= 0 && s < 7 ? names[s] : "UNKNOWN";
}

class ListLinksWorker : public Napi::AsyncWorker {
 public:
  ListLinksWorker(Napi::Env env, std::string netns, std::vector<int> host_indexes = {}, bool by_index = false)
      : Napi::AsyncWorker(env, "nori:netListLinks"),
        deferred_(Napi::Promise::Deferred::New(env)),
        netns_(std::move(netns)),
        host_indexes_(std::move(host_indexes)),
        by_index_(by_index) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { d_ = by_index_ ? HostLinks(host_indexes_) : netns_.empty() ? DumpHere() : DumpIn(netns_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (d_.err != 0) {
      SysError e;
      e.err = d_.err;
      e.syscall = d_.step;
      e.step = d_.step;
      e.path = netns_;
      deferred_.Reject(MakeFsError(env, e).Value());
      return;
    }
    std::map<int, std::string> names;
    for (const LinkInfo& l : d_.links) names[l.ifindex] = l.ifname;
    Napi::Array out = Napi::Array::New(env, d_.links.size());
    for (size_t i = 0; i < d_.links.size(); i++) {
      const LinkInfo& l = d_.links[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", l.ifindex);
      o.Set("ifname", l.ifname);
      if (l.link_index > 0) o.Set("link_index", l.link_index);
      if (!l.address.empty()) o.Set("address", l.address);
      o.Set("mtu", l.mtu);
      if (l.master > 0 && names.count(l.master)) o.Set("master", names[l.master]);
      o.Set("operstate", OperState(l.operstate));
      Napi::Object li = Napi::Object::New(env);
      if (!l.kind.empty()) li.Set("info_kind", l.kind);
      o.Set("linkinfo", li);
      Napi::Array addrs = Napi::Array::New(env, l.addrs.size());
      for (size_t j = 0; j < l.addrs.size(); j++) {
        Napi::Object a = Napi::Object::New(env);
        a.Set("family", l.addrs[j].family);
        a.Set("local", l.addrs[j].local);
        a.Set("prefixlen", l.addrs[j].prefixlen);
        addrs.Set(static_cast<uint32_t>(j), a);
      }
      o.Set("addr_info", addrs);
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string netns_;
  std::vector<int> host_indexes_;
  bool by_index_;
  Dumped d_;
};

// netListLinks(netns: string | null): Promise<IpLink[]> — the links of the host's netns (null)
// or of the netns pinned at that path, shaped like `ip -j -d addr show` entries.
Napi::Value NetListLinks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns;
  if (info.Length() > 0 && info[0].IsString()) netns = info[0].As<Napi::String>().Utf8Value();
  else if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) ThrowTypeError(env, "netns must be a string or null");
  auto* w = new ListLinksWorker(env, std::move(netns));  // deletes itself when done
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// netHostLinks(ifindexes: number[]): Promise<IpLink[]> — those links of the host's netns, the
// links they are enslaved to, and the masters' addresses.
Napi::Value NetHostLinks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) ThrowTypeError(env, "ifindexes must be an array of numbers");
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<int> indexes;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (v.IsNumber()) indexes.push_back(v.As<Napi::Number>().Int32Value());
  }
  auto* w = new ListLinksWorker(env, "", std::move(indexes), true);  // deletes itself when done
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void RegisterNetlinkReadFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("netListLinks", Napi::Function::New(env, NetListLinks, "netListLinks"));
  exports.Set("netHostLinks", Napi::Function::New(env, NetHostLinks, "netHostLinks"));
}

}  // namespace nori
