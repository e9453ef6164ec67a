#version 450
// NeoX rotary embedding on x [T, H, D]: for i < n_rot/2, dims (i, i + n_rot/2) rotate by
//   angle = pos[t] * theta^(-2i/n_rot) / ff[i];  dims >= n_rot pass through.
// Angles reach ~1e5 radians, where f32 alone loses whole milliradians, so the angle is carried as
// an unevaluated sum of two floats (inverse frequency from a host table in double precision,
// exact products by Dekker splitting), reduced by pi/2 in three parts (Cody-Waite), and sin/cos
// are evaluated by polynomials on [-pi/4, pi/4]. Only correctly rounded + - * / are assumed
// (`precise` forbids FMA contraction, which would break the error-free transformations).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { RopePush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) writeonly buffer DF { float df[]; };
layout(binding = 2) readonly buffer PS { int pos[]; };
layout(binding = 3) readonly buffer FF { float ff[]; };
layout(binding = 4) readonly buffer TB { float tab[]; };

void main() {
  const uint r = group_linear();  // row (t, h)
  if (r >= pc.T * pc.H) return;
  const uint t = r / pc.H;
  const uint xi = row_off(pc.x, r) >> 2, di = row_off(pc.dst, r) >> 2;
  const uint half_ = pc.n_rot / 2u;
  const float p = float(pos[(pc.pos_base >> 2) + t]);  // exact: |pos| < 2^24
  for (uint i = gl_LocalInvocationID.x; i < half_; i += 64u) {
    // inverse frequency as hi + lo (host double), divided by ff[i] in double-float arithmetic
    float fh = tab[2u * i], fl = tab[2u * i + 1u];
    bool tiny = false;
    if (pc.has_ff != 0u) {
      const float f = ff[(pc.ff_base >> 2) + i];
      if (f > 1e20) {
        tiny = true;  // angle below 1e-15 rad: no rotation within f32
        fh = 0.0;
        fl = 0.0;
      } else {
        precise float q = fh / f;
        float pr, er;
        two_prod(q, f, pr, er);
        precise float rem = ((fh - pr) - er) + fl;
        precise float q2 = rem / f;
        fh = q;
        fl = q2;
      }
    }
    // angle = p * (fh + fl) as ah + al
    float ah, al;
    two_prod(p, fh, ah, al);
    precise float al2 = al + p * fl;
    // k = nearest integer to angle / (pi/2); r = angle - k * pi/2 with pi/2 = P1 + P2 + P3,
    // P1 = 1.5625 (5 bits: k * P1 is exact for |k| < 2^19).
    const float k = floor(ah * 0.63661977236758134 + 0.5);
    const float P1 = 1.5625, P2 = 8.296326734125614e-03, P3 = 6.077094383272197e-11;
    precise float r1 = ah - k * P1;
    float kp, ke;
    two_prod(k, P2, kp, ke);
    precise float r2 = ((r1 - kp) - ke) - k * P3 + al2;
    const float x = tiny ? 0.0 : r2;
    // sin and cos of x in [-pi/4, pi/4] (Cephes sinf/cosf minimax polynomials)
    const float z = x * x;
    const float sn = x + x * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    const float cs = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
    const int q = int(k) & 3;
    float s_ = sn, c_ = cs;
    if (q == 1) { s_ = cs; c_ = -sn; }
    else if (q == 2) { s_ = -sn; c_ = -cs; }
    else if (q == 3) { s_ = -cs; c_ = sn; }
    const float a = xf[xi + i], b = xf[xi + i + half_];
    df[di + i] = a * c_ - b * s_;
    df[di + i + half_] = a * s_ + b * c_;
  }
  for (uint i = pc.n_rot + gl_LocalInvocationID.x; i < pc.D; i += 64u) df[di + i] = xf[xi + i];
}
