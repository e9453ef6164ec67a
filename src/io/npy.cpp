#include "io/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gemma12b {

Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + absl::StrJoin(shape, ", ") +
                     (shape.size() == 1 ? ",), }" : "), }");
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot write %s", path);
  const uint16_t len = static_cast<uint16_t>(dict.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&len), 2);
  f.write(dict.data(), dict.size());
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  f.write(reinterpret_cast<const char*>(data), n * sizeof(float));
  if (!f) return Internal("error writing %s", path);
  return OkStatus();
}

StatusOr<NpyF32> read_npy_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open %s", path);
  std::string b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) return DataLoss("%s is not a .npy file", path);
  size_t hlen, pos;
  if (b[6] == 1) {
    hlen = static_cast<uint8_t>(b[8]) | (static_cast<uint8_t>(b[9]) << 8);
    pos = 10;
  } else {
    if (b.size() < 12) return DataLoss("%s: truncated header", path);
    uint32_t n;
    std::memcpy(&n, b.data() + 8, 4);
    hlen = n;
    pos = 12;
  }
  if (hlen > b.size() - pos) return DataLoss("%s: truncated header", path);
  const std::string h = b.substr(pos, hlen);
  pos += hlen;
  if (h.find("'descr': '<f4'") == std::string::npos) return Unimplemented("%s: only '<f4' arrays are supported", path);
  if (h.find("'fortran_order': False") == std::string::npos) return Unimplemented("%s: Fortran order", path);
  const size_t s0 = h.find("'shape': (");
  const size_t s1 = h.find(')', s0);
  if (s0 == std::string::npos || s1 == std::string::npos) return DataLoss("%s: no shape", path);
  NpyF32 out;
  int64_t n = 1;
  for (absl::string_view part : absl::StrSplit(h.substr(s0 + 10, s1 - s0 - 10), ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &d) || d < 0 || d > (int64_t{1} << 40)) {
      return DataLoss("%s: bad shape", path);
    }
    out.shape.push_back(d);
    n *= d;
  }
  if (n < 0 || static_cast<size_t>(n) > (b.size() - pos) / 4) return DataLoss("%s: truncated data", path);
  out.data.resize(n);
  std::memcpy(out.data.data(), b.data() + pos, n * 4);
  return out;
}

}  // namespace gemma12b
