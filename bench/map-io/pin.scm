;;; pin.scm --- a full map pinned in bpffs for `bpftool map dump'.
;;;
;;; Creates the map of map-io.scm (hash, u32 -> u64, ENTRIES entries),
;;; fills it with bpf-map-set-all! (value 3k+2 for key k), pins it at
;;; PATH and exits; the pin keeps the map alive.  bench/map-io/run then
;;; times `bpftool map dump pinned PATH' and removes the pin.
;;;
;;; Usage:  ./pre-inst-env guile -s bench/map-io/pin.scm ENTRIES PATH

(use-modules (ebpf))

(define args (cdr (command-line)))
(define entries (string->number (car args)))
(define path (cadr args))

(defbpf-map bench #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries entries)

(bpf-map-set-all! bench
                  (let loop ((k (- entries 1)) (acc '()))
                    (if (< k 0)
                        acc
                        (loop (- k 1) (cons (cons k (+ (* 3 k) 2)) acc)))))
(bpf-map-pin! bench path)
