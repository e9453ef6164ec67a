// Instruction-set paths of the CPU backend's quantized kernels, chosen once per device: the best
// the processor has, or the one named by GEMMA12B_CPU_ISA (avx512 | avx2 | scalar) so tests and
// users can force a slower path. A request the processor cannot run falls back to the best one
// below it, with a log line.
#pragma once

#include <string_view>

namespace gemma12b::cpu {

enum class Isa {
  kScalar = 0,  // portable C++
  kAvx2,        // AVX2 + FMA + F16C
  kAvx512,      // AVX-512 F/BW/VL + VNNI
};

std::string_view isa_name(Isa isa);
// What this processor (and this build) supports at best.
Isa detect_isa();
// detect_isa() limited by the GEMMA12B_CPU_ISA environment variable, read at each call.
Isa isa_from_env();

}  // namespace gemma12b::cpu
