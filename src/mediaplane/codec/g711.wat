;; G.711 mu-law and A-law decode with WebAssembly SIMD128: n code bytes at $in in linear memory become n
;; little-endian int16 samples at $out, 16 bytes per vector step, then a scalar tail (n % 16). Input and
;; output must not overlap. The result equals the table decode in g711.ts for every code (checked by
;; test/unit/mediaplane/codec/g711-simd.test.ts).
;;
;; Compiled by scripts/build-wasm.mjs into g711-wasm.generated.ts; rerun it after editing this file.
;;
;; Method (SIMD128 has no per-lane variable shift, so 1 << seg comes from a table):
;;   mu-law  u = ~b, seg = (u >> 4) & 7, mant = u & 15, t = (8 * mant + 132) << seg,
;;           sample = u & 0x80 ? 132 - t : t - 132
;;   A-law   a = b ^ 0x55, seg = (a >> 4) & 7, mant = a & 15,
;;           t = seg == 0 ? (8 * mant + 4) * 2 : (8 * mant + 132) << seg, sample = a & 0x80 ? t : -t
;; The line inversion (~b, b ^ 0x55) is folded into 16-entry tables indexed by the raw nibbles and read with
;; i8x16.swizzle: base = 8 * mant + bias (at most 252) and pow = the 2^seg factor (at most 128) are both
;; unsigned bytes, and their product (at most 32256) fits an int16, so i16x8.extmul_{low,high}_i8x16_u does the
;; widening and the shift in one instruction per half. The sign is applied as (x ^ m) - m with m = 0 or -1
;; per lane, the byte compare widened to 16 bits.
(module
  (memory (export "memory") 3)

  (func $mulawTail (param $in i32) (param $out i32) (param $n i32)
    (local $u i32) (local $t i32) (local $end i32)
    (local.set $end (i32.add (local.get $in) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $u (i32.xor (i32.load8_u (local.get $in)) (i32.const 0xff)))
        (local.set $t
          (i32.shl
            (i32.add (i32.shl (i32.and (local.get $u) (i32.const 0x0f)) (i32.const 3)) (i32.const 0x84))
            (i32.and (i32.shr_u (local.get $u) (i32.const 4)) (i32.const 7))))
        (i32.store16 (local.get $out)
          (select
            (i32.sub (i32.const 0x84) (local.get $t))
            (i32.sub (local.get $t) (i32.const 0x84))
            (i32.and (local.get $u) (i32.const 0x80))))
        (local.set $in (i32.add (local.get $in) (i32.const 1)))
        (local.set $out (i32.add (local.get $out) (i32.const 2)))
        (br $next))))

  (func $alawTail (param $in i32) (param $out i32) (param $n i32)
    (local $a i32) (local $t i32) (local $seg i32) (local $end i32)
    (local.set $end (i32.add (local.get $in) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $a (i32.xor (i32.load8_u (local.get $in)) (i32.const 0x55)))
        (local.set $seg (i32.and (i32.shr_u (local.get $a) (i32.const 4)) (i32.const 7)))
        (local.set $t (i32.shl (i32.and (local.get $a) (i32.const 0x0f)) (i32.const 4)))
        (local.set $t
          (if (result i32) (i32.eqz (local.get $seg))
            (then (i32.add (local.get $t) (i32.const 8)))
            (else
              (i32.shl
                (i32.add (local.get $t) (i32.const 0x108))
                (i32.sub (local.get $seg) (i32.const 1))))))
        (i32.store16 (local.get $out)
          (select
            (local.get $t)
            (i32.sub (i32.const 0) (local.get $t))
            (i32.and (local.get $a) (i32.const 0x80))))
        (local.set $in (i32.add (local.get $in) (i32.const 1)))
        (local.set $out (i32.add (local.get $out) (i32.const 2)))
        (br $next))))

  ;; Decodes $n mu-law bytes at $in into $n int16 at $out.
  (func (export "mulawDecode") (param $in i32) (param $out i32) (param $n i32)
    (local $end i32) (local $b v128) (local $lo v128) (local $hi v128) (local $t v128) (local $m v128)
    (local $base v128) (local $pow v128) (local $nib v128) (local $bias v128) (local $zero v128)
    ;; indexed by the low nibble of the raw code: 8 * (15 - nibble) + 132
    (local.set $base (v128.const i8x16 252 244 236 228 220 212 204 196 188 180 172 164 156 148 140 132))
    ;; indexed by the high nibble of the raw code: 1 << (7 - (nibble & 7))
    (local.set $pow (v128.const i8x16 128 64 32 16 8 4 2 1 128 64 32 16 8 4 2 1))
    (local.set $nib (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $bias (v128.const i16x8 0x84 0x84 0x84 0x84 0x84 0x84 0x84 0x84))
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $in) (i32.and (local.get $n) (i32.const -16))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $b (v128.load align=1 (local.get $in)))
        (local.set $lo (i8x16.swizzle (local.get $base) (v128.and (local.get $b) (local.get $nib))))
        (local.set $hi (i8x16.swizzle (local.get $pow) (i8x16.shr_u (local.get $b) (i32.const 4))))
        ;; -1 where the code's top bit is set: a positive sample (mu-law sends the sign inverted)
        (local.set $m (i8x16.lt_s (local.get $b) (local.get $zero)))
        ;; samples 0..7: (132 - t) negated where m = -1
        (local.set $t (i16x8.sub (local.get $bias) (i16x8.extmul_low_i8x16_u (local.get $lo) (local.get $hi))))
        (v128.store align=1 (local.get $out)
          (i16x8.sub
            (v128.xor (local.get $t) (i16x8.extend_low_i8x16_s (local.get $m)))
            (i16x8.extend_low_i8x16_s (local.get $m))))
        ;; samples 8..15
        (local.set $t (i16x8.sub (local.get $bias) (i16x8.extmul_high_i8x16_u (local.get $lo) (local.get $hi))))
        (v128.store offset=16 align=1 (local.get $out)
          (i16x8.sub
            (v128.xor (local.get $t) (i16x8.extend_high_i8x16_s (local.get $m)))
            (i16x8.extend_high_i8x16_s (local.get $m))))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $next)))
    (call $mulawTail (local.get $in) (local.get $out) (i32.and (local.get $n) (i32.const 15))))

  ;; Decodes $n A-law bytes at $in into $n int16 at $out.
  (func (export "alawDecode") (param $in i32) (param $out i32) (param $n i32)
    (local $end i32) (local $b v128) (local $lo v128) (local $hi v128) (local $t v128) (local $m v128)
    (local $base v128) (local $base128 v128) (local $pow v128) (local $nib v128) (local $ones v128)
    ;; indexed by the low nibble of the raw code: 8 * (nibble ^ 5) + 4
    (local.set $base (v128.const i8x16 44 36 60 52 12 4 28 20 108 100 124 116 76 68 92 84))
    ;; indexed by the high nibble of the raw code: 128 where seg = (nibble ^ 5) & 7 is not 0 (bias 132, not 4)
    (local.set $base128 (v128.const i8x16 128 128 128 128 128 0 128 128 128 128 128 128 128 0 128 128))
    ;; indexed by the high nibble of the raw code: seg == 0 ? 2 : 1 << seg
    (local.set $pow (v128.const i8x16 32 16 128 64 2 2 8 4 32 16 128 64 2 2 8 4))
    (local.set $nib (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $ones (v128.const i32x4 -1 -1 -1 -1))
    (local.set $end (i32.add (local.get $in) (i32.and (local.get $n) (i32.const -16))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $b (v128.load align=1 (local.get $in)))
        (local.set $t (i8x16.shr_u (local.get $b) (i32.const 4)))
        (local.set $lo
          (v128.or
            (i8x16.swizzle (local.get $base) (v128.and (local.get $b) (local.get $nib)))
            (i8x16.swizzle (local.get $base128) (local.get $t))))
        (local.set $hi (i8x16.swizzle (local.get $pow) (local.get $t)))
        ;; -1 where the code's top bit is clear: a negative sample
        (local.set $m (i8x16.gt_s (local.get $b) (local.get $ones)))
        (local.set $t (i16x8.extmul_low_i8x16_u (local.get $lo) (local.get $hi)))
        (v128.store align=1 (local.get $out)
          (i16x8.sub
            (v128.xor (local.get $t) (i16x8.extend_low_i8x16_s (local.get $m)))
            (i16x8.extend_low_i8x16_s (local.get $m))))
        (local.set $t (i16x8.extmul_high_i8x16_u (local.get $lo) (local.get $hi)))
        (v128.store offset=16 align=1 (local.get $out)
          (i16x8.sub
            (v128.xor (local.get $t) (i16x8.extend_high_i8x16_s (local.get $m)))
            (i16x8.extend_high_i8x16_s (local.get $m))))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $next)))
    (call $alawTail (local.get $in) (local.get $out) (i32.and (local.get $n) (i32.const 15))))
)
