#include "gtgm/dist/collectives.h"

#include <torch/csrc/autograd/custom_function.h>

#include "gtgm/core/error.h"
#include "process_group.h"

namespace gtgm::dist {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

ProcessGroup& group_of(const Context& ctx) {
  GTGM_CHECK(ctx.group() != nullptr, "dist: rank {} of {} has no process group (its owner already shut it down)",
             ctx.rank(), ctx.world_size());
  return *ctx.group();
}

// A contiguous tensor on the device the backend works on (a copy when `x` is elsewhere).
torch::Tensor to_comm(const torch::Tensor& x, const Context& ctx) {
  return x.to(ctx.comm_device()).contiguous();
}

torch::Tensor gather_impl(const torch::Tensor& x, ProcessGroup& pg, torch::Device comm_device) {
  torch::Tensor local = x.detach().to(comm_device).contiguous();
  std::vector<at::Tensor> inputs{local};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < pg.world_size(); ++r) outputs[0].push_back(torch::empty_like(local));
  pg.allgather(outputs, inputs).wait();
  return torch::cat(outputs[0], 0).to(x.device());
}

torch::Tensor sum_impl(const torch::Tensor& x, ProcessGroup& pg, torch::Device comm_device) {
  // A fresh buffer: the input may be a view or be saved for backward elsewhere.
  torch::Tensor buf = x.detach().to(comm_device).clone(at::MemoryFormat::Contiguous);
  std::vector<at::Tensor> tensors{buf};
  pg.allreduce(tensors, ReduceOp::Sum).wait();
  return buf.to(x.device());
}

ProcessGroup* group_from(AutogradContext* actx) {
  return reinterpret_cast<ProcessGroup*>(actx->saved_data["pg"].toInt());
}

torch::Device comm_device_from(AutogradContext* actx) {
  return actx->saved_data["nccl"].toBool() ? actx->saved_data["device"].toDevice() : torch::Device(torch::kCPU);
}

void save_comm(AutogradContext* actx, ProcessGroup* pg, const torch::Device& comm_device) {
  actx->saved_data["pg"] = reinterpret_cast<int64_t>(pg);
  actx->saved_data["nccl"] = comm_device.is_cuda();
  actx->saved_data["device"] = comm_device;
}

// Forward: gather the rows of every rank. Backward: every rank holds the gradient of the same
// global loss w.r.t. the gathered rows; their sum over ranks, sliced to this rank's rows, is this
// rank's input gradient (world x the single-process one; the reducer's average removes the factor).
struct AllGatherWithGrad : public torch::autograd::Function<AllGatherWithGrad> {
  static torch::Tensor forward(AutogradContext* actx, torch::Tensor x, int64_t pg_ptr, torch::Device comm_device) {
    auto* pg = reinterpret_cast<ProcessGroup*>(pg_ptr);
    save_comm(actx, pg, comm_device);
    actx->saved_data["rows"] = x.size(0);
    return gather_impl(x, *pg, comm_device);
  }
  static variable_list backward(AutogradContext* actx, variable_list grads) {
    ProcessGroup* pg = group_from(actx);
    const int64_t rows = actx->saved_data["rows"].toInt();
    torch::Tensor summed = sum_impl(grads[0], *pg, comm_device_from(actx));
    return {summed.narrow(0, pg->rank() * rows, rows), torch::Tensor(), torch::Tensor()};
  }
};

struct AllReduceSumWithGrad : public torch::autograd::Function<AllReduceSumWithGrad> {
  static torch::Tensor forward(AutogradContext* actx, torch::Tensor x, int64_t pg_ptr, torch::Device comm_device) {
    auto* pg = reinterpret_cast<ProcessGroup*>(pg_ptr);
    save_comm(actx, pg, comm_device);
    return sum_impl(x, *pg, comm_device);
  }
  static variable_list backward(AutogradContext* actx, variable_list grads) {
    return {sum_impl(grads[0], *group_from(actx), comm_device_from(actx)), torch::Tensor(), torch::Tensor()};
  }
};

// A name-independent 40-bit hash (exact in a double) of the meter names, to check that every
// rank reduces the same meters.
double names_hash(const std::map<std::string, double>& meters) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& [name, value] : meters) {
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  return static_cast<double>(h >> 24);
}

}  // namespace

torch::Tensor all_gather_with_grad(const torch::Tensor& x, const Context& ctx) {
  if (!ctx.distributed()) return x;
  GTGM_CHECK(x.dim() >= 1, "all_gather_with_grad: expected a tensor [B, ...], got a scalar");
  ProcessGroup& pg = group_of(ctx);
  return AllGatherWithGrad::apply(x, reinterpret_cast<int64_t>(&pg), ctx.comm_device());
}

torch::Tensor all_gather_with_grad(const torch::Tensor& x) { return all_gather_with_grad(x, global()); }

torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& x, const Context& ctx) {
  if (!ctx.distributed()) return x;
  ProcessGroup& pg = group_of(ctx);
  return AllReduceSumWithGrad::apply(x, reinterpret_cast<int64_t>(&pg), ctx.comm_device());
}

torch::Tensor all_gather(const torch::Tensor& x, const Context& ctx) {
  if (!ctx.distributed()) return x.detach();
  GTGM_CHECK(x.dim() >= 1, "all_gather: expected a tensor [B, ...], got a scalar");
  return gather_impl(x, group_of(ctx), ctx.comm_device());
}

void all_reduce_(torch::Tensor& x, const Context& ctx, ReduceOp op) {
  if (!ctx.distributed()) return;
  torch::NoGradGuard no_grad;
  ProcessGroup& pg = group_of(ctx);
  torch::Tensor buf = to_comm(x, ctx);
  std::vector<at::Tensor> tensors{buf};
  pg.allreduce(tensors, op == ReduceOp::Mean ? ReduceOp::Sum : op).wait();
  if (op == ReduceOp::Mean) buf.div_(ctx.world_size());
  if (!buf.is_same(x)) x.copy_(buf);
}

void all_reduce_sum_(torch::Tensor& x, const Context& ctx) { all_reduce_(x, ctx, ReduceOp::Sum); }
void all_reduce_sum_(torch::Tensor& x) { all_reduce_(x, global(), ReduceOp::Sum); }

void broadcast_(torch::Tensor& x, const Context& ctx, int root) {
  if (!ctx.distributed()) return;
  GTGM_CHECK(root >= 0 && root < ctx.world_size(), "broadcast_: root {} is not a rank of a world of {}", root,
             ctx.world_size());
  torch::NoGradGuard no_grad;
  torch::Tensor buf = to_comm(x, ctx);
  std::vector<at::Tensor> tensors{buf};
  group_of(ctx).broadcast(tensors, root).wait();
  if (!buf.is_same(x)) x.copy_(buf);
}

void broadcast_module(torch::nn::Module& module, const Context& ctx) {
  if (!ctx.distributed()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors;
  for (auto& p : module.parameters()) tensors.push_back(p);
  for (auto& b : module.buffers()) tensors.push_back(b);
  // Coalesced per dtype into flat buffers of <= 64 MB: a few collectives instead of hundreds.
  constexpr int64_t kChunkBytes = 64ll << 20;
  std::map<std::pair<int, int>, std::vector<torch::Tensor>> by_kind;
  for (auto& t : tensors) {
    if (t.defined() && t.numel() > 0) by_kind[{static_cast<int>(t.scalar_type()), t.device().is_cuda()}].push_back(t);
  }
  for (auto& [kind, list] : by_kind) {
    std::size_t i = 0;
    while (i < list.size()) {
      std::vector<torch::Tensor> chunk;
      int64_t bytes = 0;
      while (i < list.size() && (chunk.empty() || bytes + list[i].nbytes() <= kChunkBytes)) {
        bytes += list[i].nbytes();
        chunk.push_back(list[i++]);
      }
      std::vector<torch::Tensor> flat_parts;
      for (auto& t : chunk) flat_parts.push_back(t.reshape(-1));
      torch::Tensor flat = torch::cat(flat_parts).to(ctx.comm_device()).contiguous();
      std::vector<at::Tensor> buf{flat};
      group_of(ctx).broadcast(buf, 0).wait();
      int64_t offset = 0;
      for (auto& t : chunk) {
        t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  }
}

void barrier(const Context& ctx) {
  if (!ctx.distributed()) return;
  group_of(ctx).barrier();
}

bool any(bool flag, const Context& ctx) {
  if (!ctx.distributed()) return flag;
  torch::Tensor t = torch::full({1}, flag ? 1 : 0, torch::kInt32);
  all_reduce_(t, ctx, ReduceOp::Max);
  return t.item<int>() != 0;
}

std::map<std::string, double> reduce_meters(const std::map<std::string, double>& meters, const Context& ctx,
                                            ReduceOp op) {
  if (!ctx.distributed()) return meters;
  GTGM_CHECK(op == ReduceOp::Mean || op == ReduceOp::Sum || op == ReduceOp::Max || op == ReduceOp::Min,
             "reduce_meters: unsupported reduction");
  // First agree on the meter set: max of (n, -n, hash, -hash) gives min and max over the ranks.
  const double n = static_cast<double>(meters.size());
  const double h = names_hash(meters);
  torch::Tensor check = torch::tensor({n, -n, h, -h}, torch::kFloat64);
  all_reduce_(check, ctx, ReduceOp::Max);
  const auto c = check.accessor<double, 1>();
  GTGM_CHECK(c[0] == -c[1] && c[2] == -c[3],
             "reduce_meters: the ranks report different meter sets (between {} and {} meters; this rank: {}); every "
             "rank must log the same names",
             -c[1], c[0], meters.size());
  if (meters.empty()) return meters;
  std::vector<double> values;
  for (const auto& [name, v] : meters) values.push_back(v);
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  all_reduce_(t, ctx, op);
  std::map<std::string, double> out;
  int64_t i = 0;
  const auto a = t.accessor<double, 1>();
  for (const auto& [name, v] : meters) out[name] = a[i++];
  return out;
}

}  // namespace gtgm::dist
