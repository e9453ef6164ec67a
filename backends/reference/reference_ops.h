// The reference backend's op implementations: plain loops, double accumulation, no threads, no
// SIMD. This is the executable form of the contracts in core/op.h and the oracle every other
// backend is tested against. Speed is not a goal here.
#pragma once

#include "core/op.h"
#include "util/status.h"

namespace gemma12b::reference {

// Runs one (already validated) op on host-visible tensors.
Status execute(const Op& op);

}  // namespace gemma12b::reference
