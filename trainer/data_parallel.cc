#include "trainer/data_parallel.h"

#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#ifdef SSLAB_HAVE_C10D_GLOO
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef SSLAB_HAVE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace sslab::trainer {
namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port" or "[v6]:port".
absl::StatusOr<HostPort> ParseRendezvous(const std::string& text,
                                         const std::string& field) {
  const size_t colon = text.rfind(':');
  HostPort out;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), &out.port) || out.port < 1 ||
      out.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", text, "\" is not host:port with a port in [1, 65535]"));
  }
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' &&
      out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

#ifdef SSLAB_HAVE_C10D_GLOO
// What the Gloo and NCCL groups derive from: LibTorch 2 put the backends
// under a c10d::Backend; in 1.13 each is a c10d::ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

// c10d reports failures as exceptions; a timeout is the caller's deadline.
absl::Status FromC10dError(const std::exception& e, absl::string_view what) {
  std::string message = e.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    message = c10_error->what_without_backtrace();
  }
  const std::string text = absl::StrCat(what, ": ", message);
  const std::string lower = absl::AsciiStrToLower(message);
  if (absl::StrContains(lower, "timed out") ||
      absl::StrContains(lower, "timeout")) {
    return absl::DeadlineExceededError(text);
  }
  return absl::UnavailableError(text);
}

// Gloo connects the ranks over the interface that reaches the rendezvous
// host (or GLOO_SOCKET_IFNAME's).
c10::intrusive_ptr<Collectives> GlooGroup(
    const c10::intrusive_ptr<c10d::Store>& store,
    const DataParallelOptions& options, const std::string& host) {
  auto group_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      interface != nullptr && *interface != '\0') {
    group_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else if (host == "127.0.0.1" || host == "localhost" || host == "::1") {
    group_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(host));
  } else {
    group_options->devices.push_back(
        c10d::ProcessGroupGloo::createDefaultDevice());
  }
  group_options->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(
      store, options.rank, options.world_size, group_options);
}

#ifdef SSLAB_HAVE_C10D_NCCL
// NCCL finds each rank's GPU from the tensors it is given; the ranks swap
// its unique id through the store. One all-reduce creates the communicator
// now, and the ranks wait for each other's before going on: ranks that are
// threads of one process could otherwise deadlock in the CUDA driver, one
// allocating inside ncclCommInitRank while another copies after its first
// collective.
c10::intrusive_ptr<Collectives> NcclGroup(
    const c10::intrusive_ptr<c10d::Store>& store,
    const DataParallelOptions& options) {
  auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
  nccl_options->timeout = options.timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
      store, options.rank, options.world_size, nccl_options);
  std::vector<at::Tensor> one = {
      at::zeros({1}, at::TensorOptions().device(options.device))};
  group->allreduce(one)->wait();
  store->set(absl::StrCat("sslab/nccl-ready/", options.rank),
             std::vector<uint8_t>{1});
  std::vector<std::string> ready;
  for (int r = 0; r < options.world_size; ++r) {
    ready.push_back(absl::StrCat("sslab/nccl-ready/", r));
  }
  store->wait(ready, options.timeout);
  return group;
}
#endif
#endif

}  // namespace

absl::StatusOr<std::string> LoopbackRendezvous() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError("socket() for the rendezvous");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError("no free port for the rendezvous");
  return absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
}

absl::Status ValidateDataParallelOptions(const DataParallelOptions& options,
                                         const std::string& prefix) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, ".world_size: must be >= 1, got ", options.world_size));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ".rank: must be in [0, ", options.world_size - 1,
                     "], got ", options.rank));
  }
  if (options.world_size > 1) {
    if (options.rendezvous.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix,
                       ".rendezvous: must be set (host:port of rank 0) when "
                       "world_size > 1"));
    }
    if (auto parsed =
            ParseRendezvous(options.rendezvous, prefix + ".rendezvous");
        !parsed.ok()) {
      return parsed.status();
    }
  }
  if (options.timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ".timeout: must be positive"));
  }
  if (options.backend != "auto" && options.backend != "gloo" &&
      options.backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ".backend: must be auto, gloo or nccl, got \"",
                     options.backend, "\""));
  }
  if (options.backend == "nccl" && !absl::StartsWith(options.device, "cuda")) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ".backend: nccl reduces CUDA tensors only, but ",
                     prefix, ".device is \"", options.device, "\""));
  }
  return absl::OkStatus();
}

void PrepareDataParallelProcess() {
  // NCCL's default on a timeout or error is to end the whole process from
  // its watchdog; blocking waits raise instead, which Join, Broadcast and
  // FinishGradients turn into a status (the gang's attempt fails, the
  // worker lives). setenv is not thread-safe: hence before any rank starts.
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
}

bool NcclAvailable() {
#ifdef SSLAB_HAVE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

std::string ResolvedBackend(const DataParallelOptions& options) {
  if (options.backend != "auto") return options.backend;
  return NcclAvailable() && absl::StartsWith(options.device, "cuda") ? "nccl"
                                                                     : "gloo";
}

#ifdef SSLAB_HAVE_C10D_GLOO

bool DataParallelAvailable() { return true; }

// Consecutive parameters whose gradients are reduced together, as one flat
// buffer.
struct Bucket {
  std::vector<size_t> parameters;  // indices, in the order they fill
  std::vector<int64_t> offsets;    // of each in `buffer`
  at::Tensor buffer;
  std::vector<bool> written;  // this pass
  size_t ready = 0;
  c10::intrusive_ptr<c10d::Work> work;  // null until launched
};

struct DataParallel::Impl {
  DataParallelOptions options;
  std::string backend;                  // resolved
  at::Device reduce_device = at::kCPU;  // NCCL: the rank's GPU
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;

  std::vector<at::Tensor> parameters;
  std::vector<unsigned> hooks;
  std::vector<std::pair<size_t, size_t>> place;  // parameter -> (bucket, slot)
  std::vector<Bucket> buckets;
  // Hooks run on autograd's threads: the fields below under `mu`.
  std::mutex mu;
  bool syncing = false;
  size_t next_launch = 0;  // buckets start in index order on every rank

  // Starts buckets next_launch.. while full (all of them when `all`): c10d
  // needs the same collectives in the same order on every rank.
  void LaunchInOrder(bool all) {
    while (next_launch < buckets.size()) {
      Bucket& b = buckets[next_launch];
      if (!all && b.ready < b.parameters.size()) return;
      std::vector<at::Tensor> one = {b.buffer};
      b.work = group->allreduce(one);
      ++next_launch;
    }
  }

  void OnGradient(size_t parameter, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mu);
    if (!syncing) return;
    const auto [bucket, slot] = place[parameter];
    Bucket& b = buckets[bucket];
    at::Tensor target =
        b.buffer.narrow(0, b.offsets[slot], grad.numel()).view_as(grad);
    // The gradient accumulated by earlier micro-batches of this step joins.
    const at::Tensor& earlier = parameters[parameter].grad();
    if (earlier.defined()) {
      at::add_out(target, earlier, grad);
    } else {
      target.copy_(grad);
    }
    b.written[slot] = true;
    ++b.ready;
    LaunchInOrder(/*all=*/false);
  }

  ~Impl() {
    for (size_t k = 0; k < hooks.size(); ++k)
      parameters[k].remove_hook(hooks[k]);
  }
};

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Join(
    const DataParallelOptions& options) {
  if (auto valid = ValidateDataParallelOptions(options, "data_parallel");
      !valid.ok()) {
    return valid;
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->backend = ResolvedBackend(options);
  if (impl->backend == "nccl" && !NcclAvailable()) {
    return absl::UnimplementedError(
        "data_parallel.backend: nccl, but this build has no NCCL (build "
        "against a CUDA LibTorch with NCCL, and nccl.h in "
        "SSLAB_NCCL_INCLUDE_DIR)");
  }
  HostPort at{"127.0.0.1", 1};
  if (options.world_size > 1) {
    auto parsed = ParseRendezvous(options.rendezvous, "rendezvous");
    if (!parsed.ok()) return parsed.status();
    at = *parsed;
  }
  try {
    if (options.world_size == 1) {
      // A group of one still runs the same code path (no peers to meet).
      impl->store = c10::make_intrusive<c10d::HashStore>();
    } else {
      c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<uint16_t>(at.port);
      store_options.isServer = options.rank == 0;
      store_options.numWorkers = options.world_size;
      store_options.waitWorkers = true;
      store_options.timeout = options.timeout;
      impl->store = c10::make_intrusive<c10d::TCPStore>(at.host, store_options);
    }
#ifdef SSLAB_HAVE_C10D_NCCL
    if (impl->backend == "nccl") {
      impl->reduce_device = at::Device(options.device);
      impl->group = NcclGroup(impl->store, options);
    }
#endif
    if (!impl->group) impl->group = GlooGroup(impl->store, options, at.host);
  } catch (const std::exception& e) {
    return FromC10dError(
        e,
        absl::StrCat("data-parallel rendezvous at ", options.rendezvous,
                     " (rank ", options.rank, " of ", options.world_size, ")"));
  }
  return std::unique_ptr<DataParallel>(new DataParallel(std::move(impl)));
}

absl::Status DataParallel::Broadcast(const std::vector<at::Tensor>& tensors) {
  try {
    at::NoGradGuard no_grad;
    for (const at::Tensor& t : tensors) {
      // One contiguous tensor per call.
      std::vector<at::Tensor> one = {t.detach().contiguous()};
      impl_->group->broadcast(one)->wait();
      if (!one[0].is_same(t)) t.detach().copy_(one[0]);
    }
  } catch (const std::exception& e) {
    return FromC10dError(e, "data-parallel broadcast");
  }
  return absl::OkStatus();
}

absl::Status DataParallel::AttachParameters(
    const std::vector<at::Tensor>& parameters) {
  Impl& d = *impl_;
  if (!d.parameters.empty()) {
    return absl::FailedPreconditionError("parameters are already attached");
  }
  constexpr int64_t kFirstBucketBytes = 1 << 20, kBucketBytes = 25 << 20;
  d.parameters = parameters;
  d.place.resize(parameters.size());
  int64_t bytes = 0;
  // From the last parameter back: the order gradients arrive in.
  for (size_t k = parameters.size(); k-- > 0;) {
    const at::Tensor& p = parameters[k];
    if (!p.requires_grad() || !p.is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter ", k, ": must be a floating tensor requiring grad"));
    }
    const int64_t limit =
        d.buckets.size() <= 1 ? kFirstBucketBytes : kBucketBytes;
    if (d.buckets.empty() || bytes >= limit ||
        d.buckets.back().buffer.scalar_type() != p.scalar_type()) {
      d.buckets.emplace_back().buffer =
          at::empty({0}, p.options().requires_grad(false));
      bytes = 0;
    }
    Bucket& b = d.buckets.back();
    d.place[k] = {d.buckets.size() - 1, b.parameters.size()};
    b.parameters.push_back(k);
    b.offsets.push_back(bytes / p.element_size());
    bytes += p.numel() * p.element_size();
    b.buffer = at::empty({bytes / p.element_size()}, b.buffer.options());
  }
  Impl* impl = impl_.get();
  for (size_t k = 0; k < parameters.size(); ++k) {
    d.hooks.push_back(parameters[k].register_hook(
        [impl, k](const at::Tensor& grad) { impl->OnGradient(k, grad); }));
  }
  return absl::OkStatus();
}

void DataParallel::SyncNextBackward() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->syncing = true;
  impl_->next_launch = 0;
  for (Bucket& b : impl_->buckets) {
    b.ready = 0;
    b.written.assign(b.parameters.size(), false);
    b.work.reset();
  }
}

absl::Status DataParallel::FinishGradients() {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  if (!d.syncing) {
    return absl::FailedPreconditionError(
        "FinishGradients without SyncNextBackward");
  }
  d.syncing = false;
  try {
    // A parameter the pass did not reach contributes zero.
    for (size_t i = d.next_launch; i < d.buckets.size(); ++i) {
      Bucket& b = d.buckets[i];
      for (size_t slot = 0; slot < b.parameters.size(); ++slot) {
        if (b.written[slot]) continue;
        b.buffer
            .narrow(0, b.offsets[slot],
                    d.parameters[b.parameters[slot]].numel())
            .zero_();
      }
    }
    d.LaunchInOrder(/*all=*/true);
    at::NoGradGuard no_grad;
    const double scale = 1.0 / d.options.world_size;
    for (Bucket& b : d.buckets) {
      b.work->wait();
      b.buffer.mul_(scale);
      for (size_t slot = 0; slot < b.parameters.size(); ++slot) {
        at::Tensor& p = d.parameters[b.parameters[slot]];
        at::Tensor mean =
            b.buffer.narrow(0, b.offsets[slot], p.numel()).view_as(p);
        if (p.grad().defined()) {
          p.mutable_grad().copy_(mean);
        } else {
          p.mutable_grad() = mean.clone();
        }
      }
    }
  } catch (const std::exception& e) {
    return FromC10dError(e, "data-parallel gradient all-reduce");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> DataParallel::SumOverRanks(
    const std::vector<double>& values) {
  try {
    std::vector<at::Tensor> one = {
        at::tensor(values, at::TensorOptions().dtype(at::kDouble))
            .to(impl_->reduce_device)};
    impl_->group->allreduce(one)->wait();
    const at::Tensor sums = one[0].cpu();
    const double* data = sums.data_ptr<double>();
    return std::vector<double>(data, data + values.size());
  } catch (const std::exception& e) {
    return FromC10dError(e, "data-parallel all-reduce");
  }
}

#else  // !SSLAB_HAVE_C10D_GLOO

bool DataParallelAvailable() { return false; }

struct DataParallel::Impl {
  DataParallelOptions options;
  std::string backend;
};

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Join(
    const DataParallelOptions& options) {
  return absl::UnimplementedError(
      "data-parallel training: this build has no c10d Gloo backend (build "
      "against a LibTorch with USE_C10D_GLOO and the Gloo headers)");
}

absl::Status DataParallel::Broadcast(const std::vector<at::Tensor>&) {
  return absl::UnimplementedError("no c10d");
}
absl::Status DataParallel::AttachParameters(const std::vector<at::Tensor>&) {
  return absl::UnimplementedError("no c10d");
}
void DataParallel::SyncNextBackward() {}
absl::Status DataParallel::FinishGradients() {
  return absl::UnimplementedError("no c10d");
}
absl::StatusOr<std::vector<double>> DataParallel::SumOverRanks(
    const std::vector<double>& values) {
  return values;
}

#endif  // SSLAB_HAVE_C10D_GLOO

DataParallel::DataParallel(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
DataParallel::~DataParallel() = default;

int DataParallel::rank() const { return impl_->options.rank; }
int DataParallel::world_size() const { return impl_->options.world_size; }
const std::string& DataParallel::backend() const { return impl_->backend; }

}  // namespace sslab::trainer
