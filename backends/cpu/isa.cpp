#include "cpu/isa.h"

#include <cstdlib>
#include <string>

#include "util/log.h"

namespace gemma12b::cpu {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

Isa detect_isa() {
#if defined(__x86_64__) && defined(GEMMA12B_CPU_X86_KERNELS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
    return Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    return Isa::kAvx2;
  }
#endif
  return Isa::kScalar;
}

Isa isa_from_env() {
  const Isa best = detect_isa();
  const char* env = std::getenv("GEMMA12B_CPU_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::string want(env);
  Isa asked;
  if (want == "avx512") {
    asked = Isa::kAvx512;
  } else if (want == "avx2") {
    asked = Isa::kAvx2;
  } else if (want == "scalar") {
    asked = Isa::kScalar;
  } else {
    log_warn("GEMMA12B_CPU_ISA=%s is not one of avx512, avx2, scalar; using %s", want,
            std::string(isa_name(best)));
    return best;
  }
  if (asked > best) {
    log_warn("GEMMA12B_CPU_ISA=%s: this processor supports at most %s; using it", want,
            std::string(isa_name(best)));
    return best;
  }
  return asked;
}

}  // namespace gemma12b::cpu
