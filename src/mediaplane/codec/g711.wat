;; G.711 mu-law and A-law decode with WebAssembly SIMD128: n code bytes at $in in linear memory become n
;; little-endian int16 samples at $out, 16 bytes per vector step, then a scalar tail (n % 16). Input and
;; output must not overlap. The result equals the table decode in g711.ts for every code (checked by
;; test/unit/mediaplane/codec/g711-simd.test.ts).
;;
;; Compiled by scripts/build-wasm.mjs into g711-wasm.generated.ts; rerun it after editing this file.
;;
;; Memory (4 pages): bytes [0, 64 KiB) are the input region and [64 KiB, 192 KiB) the output region that
;; g711-simd.ts uses; the constant tables sit at $TABLES = 192 KiB.
;;
;; Method (SIMD128 has no per-lane variable shift, so 2^seg comes from a table):
;;   mu-law  u = ~b, seg = (u >> 4) & 7, mant = u & 15, t = (8 * mant + 132) << seg,
;;           sample = u & 0x80 ? 132 - t : t - 132
;;   A-law   a = b ^ 0x55, seg = (a >> 4) & 7, mant = a & 15,
;;           t = seg == 0 ? (8 * mant + 4) * 2 : (8 * mant + 132) << seg, sample = a & 0x80 ? t : -t
;; The line inversion (~b, b ^ 0x55) is folded into 16-entry byte tables indexed by the raw nibbles and read
;; with i8x16.swizzle: base = 8 * mant + bias (at most 252) and pow = the 2^seg factor (at most 128); their
;; product (at most 32256) fits an int16. The products are formed in 16-bit lanes without widening shuffles:
;; a 16-bit lane holds an even code byte in its low half and the next odd one in its high half, so
;; (x & 0x00ff) are the even bytes and (x >> 8) the odd ones; one i16x8.mul each, the sign applied as
;; (x ^ m) - m with m = 0 or -1 per lane (the code's bit 7 moved to bit 15 and shifted arithmetically), and
;; the two halves interleaved back into sample order by two i16 shuffles (punpck{l,h}wd on x64).
;; The tables are loaded from memory rather than written as v128.const: V8 (Node 20) rematerializes SIMD
;; constants inside the loop, which measured ~45% slower.
(module
  (memory (export "memory") 4)
  (data (i32.const 196608)
    ;; +0   mu-law base by low nibble of the raw code: 8 * (15 - nibble) + 132
    "\fc\f4\ec\e4\dc\d4\cc\c4\bc\b4\ac\a4\9c\94\8c\84"
    ;; +16  mu-law pow by high nibble of the raw code: 1 << (7 - (nibble & 7))
    "\80\40\20\10\08\04\02\01\80\40\20\10\08\04\02\01"
    ;; +32  A-law base by low nibble of the raw code: 8 * (nibble ^ 5) + 4
    "\2c\24\3c\34\0c\04\1c\14\6c\64\7c\74\4c\44\5c\54"
    ;; +48  A-law base addend by high nibble: 128 where seg = (nibble ^ 5) & 7 is not 0 (bias 132, not 4)
    "\80\80\80\80\80\00\80\80\80\80\80\80\80\00\80\80"
    ;; +64  A-law pow by high nibble: seg == 0 ? 2 : 1 << seg
    "\20\10\80\40\02\02\08\04\20\10\80\40\02\02\08\04"
    ;; +80  0x0f in every byte
    "\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f\0f"
    ;; +96  0x00ff in every 16-bit lane
    "\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00"
    ;; +112 132 (the mu-law bias) in every 16-bit lane
    "\84\00\84\00\84\00\84\00\84\00\84\00\84\00\84\00")

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
    (local $end i32) (local $b v128) (local $base v128) (local $pow v128) (local $m v128)
    (local $even v128) (local $odd v128)
    (local $baseTab v128) (local $powTab v128) (local $nib v128) (local $low v128) (local $bias v128)
    (local.set $baseTab (v128.load (i32.const 196608)))
    (local.set $powTab (v128.load (i32.const 196624)))
    (local.set $nib (v128.load (i32.const 196688)))
    (local.set $low (v128.load (i32.const 196704)))
    (local.set $bias (v128.load (i32.const 196720)))
    (local.set $end (i32.add (local.get $in) (i32.and (local.get $n) (i32.const -16))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $b (v128.load align=1 (local.get $in)))
        (local.set $base (i8x16.swizzle (local.get $baseTab) (v128.and (local.get $b) (local.get $nib))))
        (local.set $pow (i8x16.swizzle (local.get $powTab)
          (v128.and (i16x8.shr_u (local.get $b) (i32.const 4)) (local.get $nib))))
        ;; even codes: r = 132 - t, negated (to t - 132) where the code's bit 7 is set (mu-law sends S inverted)
        (local.set $even (i16x8.sub (local.get $bias)
          (i16x8.mul (v128.and (local.get $base) (local.get $low)) (v128.and (local.get $pow) (local.get $low)))))
        (local.set $m (i16x8.shr_s (i16x8.shl (local.get $b) (i32.const 8)) (i32.const 15)))
        (local.set $even (i16x8.sub (v128.xor (local.get $even) (local.get $m)) (local.get $m)))
        ;; odd codes
        (local.set $odd (i16x8.sub (local.get $bias)
          (i16x8.mul (i16x8.shr_u (local.get $base) (i32.const 8)) (i16x8.shr_u (local.get $pow) (i32.const 8)))))
        (local.set $m (i16x8.shr_s (local.get $b) (i32.const 15)))
        (local.set $odd (i16x8.sub (v128.xor (local.get $odd) (local.get $m)) (local.get $m)))
        (v128.store align=1 (local.get $out)
          (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $even) (local.get $odd)))
        (v128.store offset=16 align=1 (local.get $out)
          (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $even) (local.get $odd)))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $next)))
    (call $mulawTail (local.get $in) (local.get $out) (i32.and (local.get $n) (i32.const 15))))

  ;; Decodes $n A-law bytes at $in into $n int16 at $out.
  (func (export "alawDecode") (param $in i32) (param $out i32) (param $n i32)
    (local $end i32) (local $b v128) (local $hi v128) (local $base v128) (local $pow v128) (local $m v128)
    (local $even v128) (local $odd v128)
    (local $baseTab v128) (local $base128Tab v128) (local $powTab v128) (local $nib v128) (local $low v128)
    (local.set $baseTab (v128.load (i32.const 196640)))
    (local.set $base128Tab (v128.load (i32.const 196656)))
    (local.set $powTab (v128.load (i32.const 196672)))
    (local.set $nib (v128.load (i32.const 196688)))
    (local.set $low (v128.load (i32.const 196704)))
    (local.set $end (i32.add (local.get $in) (i32.and (local.get $n) (i32.const -16))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $b (v128.load align=1 (local.get $in)))
        (local.set $hi (v128.and (i16x8.shr_u (local.get $b) (i32.const 4)) (local.get $nib)))
        (local.set $base (v128.or
          (i8x16.swizzle (local.get $baseTab) (v128.and (local.get $b) (local.get $nib)))
          (i8x16.swizzle (local.get $base128Tab) (local.get $hi))))
        (local.set $pow (i8x16.swizzle (local.get $powTab) (local.get $hi)))
        ;; -1 in the lanes to negate: A-law codes with bit 7 clear
        (local.set $b (v128.not (local.get $b)))
        (local.set $even
          (i16x8.mul (v128.and (local.get $base) (local.get $low)) (v128.and (local.get $pow) (local.get $low))))
        (local.set $m (i16x8.shr_s (i16x8.shl (local.get $b) (i32.const 8)) (i32.const 15)))
        (local.set $even (i16x8.sub (v128.xor (local.get $even) (local.get $m)) (local.get $m)))
        (local.set $odd
          (i16x8.mul (i16x8.shr_u (local.get $base) (i32.const 8)) (i16x8.shr_u (local.get $pow) (i32.const 8))))
        (local.set $m (i16x8.shr_s (local.get $b) (i32.const 15)))
        (local.set $odd (i16x8.sub (v128.xor (local.get $odd) (local.get $m)) (local.get $m)))
        (v128.store align=1 (local.get $out)
          (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $even) (local.get $odd)))
        (v128.store offset=16 align=1 (local.get $out)
          (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $even) (local.get $odd)))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $next)))
    (call $alawTail (local.get $in) (local.get $out) (i32.and (local.get $n) (i32.const 15))))
)
