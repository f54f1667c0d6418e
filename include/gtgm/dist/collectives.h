#pragma once
/// Collectives over a dist::Context, all the identity for a single process.
///
/// Gradient convention (the same as torch.distributed.nn): every rank computes the loss over the
/// GLOBAL batch, the backward of a gathering / reducing collective SUMS the incoming gradients over
/// the ranks, and the reducer then AVERAGES parameter gradients over the ranks. The parameter
/// gradients then equal those of one process on the global batch (tests/dist checks this).
/// Inputs of a differentiable collective therefore receive world_size x the single-process gradient.
///
/// Every rank must call the same collectives in the same order with tensors of the same shape
/// and dtype (a mismatch is reported as a failure of the collective, naming it and the ranks).
#include <torch/torch.h>

#include <map>
#include <string>

#include "gtgm/dist/context.h"

namespace gtgm::dist {

/// Reduction for all_reduce.
enum class ReduceOp { Sum, Mean, Max, Min };

/// x [B, ...] on every rank -> [world * B, ...] (rank r's rows at r*B), differentiable: the
/// backward all-reduces (sums) the gradient and returns this rank's slice. Identity for world 1.
/// All ranks must pass the same shape.
torch::Tensor all_gather_with_grad(const torch::Tensor& x, const Context& ctx);
/// Same over the process-wide context (global()).
torch::Tensor all_gather_with_grad(const torch::Tensor& x);

/// Differentiable sum over ranks: forward all-reduce(sum) into a new tensor, backward all-reduce
/// (sum) of the gradient. For global batch statistics (Barlow Twins). Identity for world 1.
torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& x, const Context& ctx);

/// Gathers without gradient: [B, ...] -> [world * B, ...].
torch::Tensor all_gather(const torch::Tensor& x, const Context& ctx);

/// In-place all-reduce (no autograd). CUDA tensors need an NCCL context, CPU tensors Gloo
/// (a tensor on the other device is copied to comm_device() and back).
void all_reduce_(torch::Tensor& x, const Context& ctx, ReduceOp op = ReduceOp::Sum);
/// In-place sum over ranks (contract name).
void all_reduce_sum_(torch::Tensor& x, const Context& ctx);
void all_reduce_sum_(torch::Tensor& x);
/// In-place broadcast from `root`.
void broadcast_(torch::Tensor& x, const Context& ctx, int root = 0);
/// Broadcasts a module's parameters and buffers from rank 0 (every rank starts identical).
void broadcast_module(torch::nn::Module& module, const Context& ctx);
/// Blocks until every rank arrives (fails within the timeout naming the missing ranks).
void barrier(const Context& ctx);

/// Whether `flag` is true on any rank (e.g. a SIGTERM seen by one rank stops all at the same step).
bool any(bool flag, const Context& ctx);

/// Reduces scalar meters (e.g. mean loss per term) over ranks: every rank must pass the same
/// names (checked: a mismatch throws naming the meter sets' sizes). Mean or Sum.
std::map<std::string, double> reduce_meters(const std::map<std::string, double>& meters, const Context& ctx,
                                            ReduceOp op = ReduceOp::Mean);

}  // namespace gtgm::dist
