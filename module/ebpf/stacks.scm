;;; (ebpf stacks) --- stacks and addresses, symbolized.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf events), which re-exports the public names.  A program
;;; records a stack with (stack-id ctx STACKMAP), (kstack) or (ustack);
;;; here the stack-trace map is read back as addresses, and addresses
;;; are named as bpftrace names them: kernel ones from /proc/kallsyms,
;;; user ones from the ELF symbol tables of the files a process maps
;;; (both by the C core, ringbuf.c).

(define-module (ebpf stacks)
  #:use-module ((ebpf core) #:select (%bpf-symbolize %bpf-symbol))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (rnrs bytevectors)
  ;; For (ebpf print), not re-exported by (ebpf events):
  #:export (stack-key-frames)
  #:export (bpf-stack-addresses
            bpf-stack-symbols
            bpf-ksym
            bpf-usym))

(define (symbol-text who addr pid)
  (unless (and (exact-integer? addr) (>= addr 0))
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "bad address ~s" addr)
                      #:fix "give an address as a non-negative integer"))
  (match (%bpf-symbol addr pid)
    ((name . 0) name)
    ((name . off) (format #f "~a+0x~x" name off))
    (#f (format #f "0x~x" addr))))

(define (bpf-ksym addr)
  "Return the kernel symbol covering address @var{addr}, as
@code{\"vfs_read+0x1a\"} (the offset in hexadecimal, omitted when
zero), or @code{\"0xADDRESS\"} when no symbol of /proc/kallsyms covers
it.  Raises @code{ebpf-validation-error} for a bad address."
  (symbol-text 'bpf-ksym addr #f))

(define (bpf-usym pid addr)
  "Return the symbol covering user address @var{addr} of process
@var{pid}, named from the ELF symbol tables of the files it maps, as
@code{\"main+0x10\"} (the offset in hexadecimal, omitted when zero),
or @code{\"0xADDRESS\"} when none covers it or the process is gone.
Raises @code{ebpf-validation-error} for a bad address or process id."
  (unless (and (exact-integer? pid) (> pid 0))
    (raise-ebpf-error 'ebpf-validation-error 'bpf-usym
                      (format #f "bad process id ~s" pid)
                      #:fix "give a process id (a positive integer)"))
  (symbol-text 'bpf-usym addr pid))

(define kernel-space #xffff800000000000)

(define (bpf-stack-addresses stackmap id)
  "Return the addresses (innermost first) of the stack that
@code{(stack-id ctx STACKMAP)} recorded under @var{id} in
@var{stackmap}, or @code{'()} if it holds none.  Raises
@code{ebpf-validation-error} for a negative @var{id} (the error
@code{bpf_get_stackid} returned)."
  (let ((m (map-of-kind stackmap 'bpf-stack-addresses '(stack-trace))))
    (unless (and (exact-integer? id) (>= id 0))
      (raise-ebpf-error 'ebpf-validation-error 'bpf-stack-addresses
                        (format #f "bad stack id ~s~a" id
                                (if (and (exact-integer? id) (< id 0))
                                    (format #f " (stack-id failed with errno ~a)" (- id))
                                    ""))
                        #:fix "give an id stack-id returned (>= 0); -14 (EFAULT) means no stack, -17 (EEXIST) a hash collision"))
    (let ((v (bpf-map-ref m id)))
      (cond
       ((not v) '())
       ((bytevector? v)
        (let lp ((i 0) (acc '()))
          (if (> (+ i 8) (bytevector-length v))
              (reverse acc)
              (let ((a (bytevector-u64-native-ref v i)))
                (if (zero? a)
                    (reverse acc)
                    (lp (+ i 8) (cons a acc)))))))
       (else '())))))

(define* (bpf-stack-symbols stackmap id #:key (pid (getpid)))
  "Return the frames of the stack recorded under @var{id} in
@var{stackmap} (see @code{bpf-stack-addresses}) as strings, innermost
first, the way bpftrace prints stacks: @samp{SYMBOL+OFFSET} (decimal),
or @samp{0xADDRESS} where no symbol covers the address.  Kernel stacks
are named from /proc/kallsyms; user stacks (recorded with
@code{#:user? #t}) from the ELF symbol tables of the files that process
@var{pid} (default: this one) maps, so give the pid of the process the
stack came from while it still runs."
  (let ((addrs (bpf-stack-addresses stackmap id)))
    (cond ((null? addrs) '())
          ((>= (car addrs) kernel-space) (%bpf-symbolize addrs #f))
          (else (%bpf-symbolize addrs pid)))))

(define (stack-key-frames note k)
  ;; The frames of key K of a map whose keys are stacks, NOTE being
  ;; (STACKMAP . MODE) as the lowering noted it (see %bpf-stack-key).
  (let* ((stackmap (car note))
         (id (logand k #xffffffff))
         (valid? (< id #x80000000)))   ; a failed capture: negative errno
    (case (cdr note)
      ((kernel) (if valid?
                    (%bpf-symbolize (bpf-stack-addresses stackmap id) #f)
                    '()))
      ((user) (if valid?
                  (let ((addrs (bpf-stack-addresses stackmap id))
                        (pid (ash k -32)))
                    (if (file-exists? (format #f "/proc/~a/maps" pid))
                        (%bpf-symbolize addrs pid)
                        (map (lambda (a) (format #f "0x~x" a)) addrs)))
                  '()))
      (else (if (and (>= k 0) valid?) (bpf-stack-symbols stackmap k) '())))))
