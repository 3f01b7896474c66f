;;; swap.scm --- how long replacing an attached program takes.
;;;
;;; Run by bench/swap/run inside a test network namespace whose interface
;;; SWAP_IFACE has a peer at SWAP_PEER (an address ping reaches through
;;; it).  Environment: SWAP_RUNS (runs per measurement), SWAP_TMP (a
;;; directory for the fresh object caches of cold runs), SWAP_IFACE,
;;; SWAP_PEER.
;;;
;;; For an XDP program on SWAP_IFACE and a tracepoint program on
;;; syscalls/sys_enter_getpid, each a bpf-fn whose versions differ by a
;;; constant spliced into the body, it times in milliseconds:
;;;
;;;   first-cold  declaring the program and attaching it (bpf-attach!),
;;;               with an empty object cache: lowering, clang, load,
;;;               attach;
;;;   first-warm  the same with the object already in the cache;
;;;   swap-warm   re-declaring the attached program with another version
;;;               whose object is already in the cache: from "the new
;;;               version is compiled" to "the new version is attached"
;;;               (lowering, cache hit, load and verification, then
;;;               bpf_link_update for XDP or the dispatcher's one-slot
;;;               prog-array update for the tracepoint);
;;;   swap-cold   the same with an empty cache, so clang runs;
;;;
;;; and the steps of a warm swap one by one: lower (bpf-fn->c), cache
;;; (bpf-build-c of a cached text), load (bpf-object-load), and switch
;;; (bpf-link-update! on the XDP link; bpf-map-set! of a prog-array slot).
;;;
;;; After every attach or swap it checks, outside the timing, that the
;;; version meant to run is the one the kernel runs: for XDP the program
;;; id attached to the interface and, once per measurement, a ping whose
;;; reply the new version counts; for the tracepoint a getpid call that
;;; the new version counts.  Output: one line "NAME MS" per run, "check
;;; ..." lines; exit status 1 if a check failed.

(use-modules (ebpf)
             (srfi srfi-1)
             (ice-9 format)
             (ice-9 popen)
             (ice-9 rdelim)
             (ice-9 regex))

(define runs (string->number (or (getenv "SWAP_RUNS") "11")))
(define tmp (or (getenv "SWAP_TMP") "/tmp"))
(define iface (or (getenv "SWAP_IFACE") "gebpfb0"))
(define peer (or (getenv "SWAP_PEER") "10.198.0.2"))

(define failures 0)
(define (check what ok)
  (unless ok (set! failures (+ failures 1)))
  (format #t "check ~a ~a~%" what (if ok "ok" "FAILED"))
  (force-output))

(define (out name ms)
  (format #t "~a ~,3f~%" name ms)
  (force-output))

(define (ms-of thunk)
  (let ((t0 (get-internal-real-time)))
    (thunk)
    (/ (* 1000.0 (- (get-internal-real-time) t0))
       internal-time-units-per-second)))

;; A fresh, empty object cache: the next build runs clang.
(define fresh-count 0)
(define (fresh-cache!)
  (set! fresh-count (+ fresh-count 1))
  (let ((dir (format #f "~a/cache-~a" tmp fresh-count)))
    (mkdir dir)
    (setenv "XDG_CACHE_HOME" dir)))
(define warm-cache (string-append tmp "/cache-warm"))
(mkdir warm-cache)
(define (warm-cache!) (setenv "XDG_CACHE_HOME" warm-cache))

;; Which version ran: each version V counts into element V of `seen'.
(defbpf-map seen #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1024)
(define (seen-count v) (bpf-map-ref seen v))

;;; ------------------------------------------------------------------
;;; XDP on the test interface.

(define (make-xdp-fn v)
  (bpf-fn swap-xdp (ctx)
    (map-increment! seen ,v)
    (return :xdp-pass)))

(define (xdp-decl v)
  `((name . "swap-xdp") (kind . xdp) (attach . ,iface) (source . ,(xdp-fn v))))

(define (ip-link)
  (let* ((p (open-pipe* OPEN_READ "ip" "-o" "link" "show" "dev" iface))
         (s (read-string p)))
    (close-pipe p)
    s))

(define (attached-xdp-id)
  ;; The id of the XDP program on IFACE, from ip link.
  (let ((m (string-match "prog/xdp id ([0-9]+)" (ip-link))))
    (and m (string->number (match:substring m 1)))))

(define (xdp-mode)
  ;; native ("xdp"), generic ("xdpgeneric") or offload, as ip link says.
  (let ((m (string-match " (xdp|xdpgeneric|xdpoffload) " (ip-link))))
    (cond ((not m) "none")
          ((string=? (match:substring m 1) "xdp") "native")
          ((string=? (match:substring m 1) "xdpgeneric") "generic")
          (else "offload"))))

(define (xdp-runs? p)
  (eqv? (attached-xdp-id) (bpf-object-id (bpf-program-object p))))

(define (ping-counted? v)
  (let ((before (seen-count v)))
    (system (string-append "ping -q -c 1 -W 1 " peer " >/dev/null 2>&1"))
    (> (seen-count v) before)))

;;; Tracepoint.

(define tracepoint "syscalls/sys_enter_getpid")
(define me (getpid))

(define (make-tp-fn v)
  (bpf-fn swap-tp (ctx)
    (when (= (tgid) (const me))
      (map-increment! seen ,v))))

;; Every version is made here, before anything is attached: evaluating a
;; bpf-fn of the name of an attached program's bpf-fn swaps it in at
;; once, which would put a second swap inside the timed re-declarations.
(define versions
  (append '(1 2) (iota runs 10) (iota runs 100)))
(define (version-table make)
  (map (lambda (v) (cons v (make v))) versions))
(define xdp-fns (version-table make-xdp-fn))
(define tp-fns (version-table make-tp-fn))
(define (xdp-fn v) (assv-ref xdp-fns v))
(define (tp-fn v) (assv-ref tp-fns v))

(define (tp-decl v)
  `((name . "swap-tp") (kind . tracepoint) (attach . ,tracepoint)
    (source . ,(tp-fn v)) (constants . ((me . ,me)))))

(define (getpid-counted? v)
  (let ((before (seen-count v)))
    (getpid)
    (= (seen-count v) (+ before 1))))

;;; ------------------------------------------------------------------
;;; The measurements, the same for both kinds.

(define (measure kind decl runs? traffic?)
  ;; DECL: version -> declaration; RUNS?: program version -> whether the
  ;; kernel runs that version; TRAFFIC?: version -> whether an event
  ;; reached it.
  (define prefix (symbol->string kind))
  (define (name s) (string-append prefix "-" s))
  (define p #f)
  (define (declare! v) (set! p (make-bpf-program (decl v))))
  (define (stop!) (when p (bpf-unload! p)))

  ;; First attach, cold then warm.  Versions 1 and 2 end up in the warm
  ;; cache for the warm swaps.
  (do ((r 0 (+ r 1))) ((= r runs))
    (fresh-cache!)
    (out (name "first-cold")
         (ms-of (lambda () (declare! (+ 10 r)) (bpf-attach! p))))
    (check (format #f "~a first-cold run ~a" prefix r) (runs? p (+ 10 r)))
    (stop!))
  (warm-cache!)
  (declare! 2) (bpf-attach! p) (stop!)
  (declare! 1) (bpf-attach! p) (stop!)
  (do ((r 0 (+ r 1))) ((= r runs))
    (out (name "first-warm")
         (ms-of (lambda () (declare! 1) (bpf-attach! p))))
    (check (format #f "~a first-warm run ~a" prefix r) (runs? p 1))
    (unless (= r (- runs 1)) (stop!)))

  ;; Warm swaps: version 1 is attached; alternate 2, 1, 2 ...
  (do ((r 0 (+ r 1))) ((= r runs))
    (let ((v (if (even? r) 2 1)))
      (out (name "swap-warm") (ms-of (lambda () (declare! v))))
      (check (format #f "~a swap-warm run ~a" prefix r) (runs? p v))))
  (check (format #f "~a swap-warm: an event reaches the new version" prefix)
         (traffic? (if (even? (- runs 1)) 2 1)))

  ;; Cold swaps: a new version each time, an empty cache each time.
  (do ((r 0 (+ r 1))) ((= r runs))
    (fresh-cache!)
    (let ((v (+ 100 r)))
      (out (name "swap-cold") (ms-of (lambda () (declare! v))))
      (check (format #f "~a swap-cold run ~a" prefix r) (runs? p v))))
  (check (format #f "~a swap-cold: an event reaches the new version" prefix)
         (traffic? (+ 100 runs -1)))
  (warm-cache!)
  p)

;; The steps of a warm swap, timed one by one.  SWITCH! takes the new
;; object and puts it in place; RESTORE! puts the program's own back.
(define (steps kind fn-of switch! restore!)
  (define prefix (symbol->string kind))
  (define fn (fn-of 2))
  (define kind-of-fn (if (eq? kind 'xdp) 'xdp 'tracepoint))
  (define target (if (eq? kind 'xdp) #f tracepoint))
  (define consts (if (eq? kind 'xdp) '() `((me . ,me))))
  (bpf-build-c (bpf-fn->c fn #:kind kind-of-fn #:target target
                          #:constants consts))           ; in the cache
  (do ((r 0 (+ r 1))) ((= r runs))
    (let* ((c #f) (path #f) (obj #f))
      (out (string-append prefix "-step-lower")
           (ms-of (lambda ()
                    (set! c (bpf-fn->c fn #:kind kind-of-fn #:target target
                                       #:constants consts)))))
      (out (string-append prefix "-step-cache")
           (ms-of (lambda () (set! path (bpf-build-c c)))))
      (out (string-append prefix "-step-load")
           (ms-of (lambda ()
                    (set! obj (bpf-object-load path #:kind kind-of-fn
                                               #:constants consts)))))
      (out (string-append prefix "-step-switch")
           (ms-of (lambda () (switch! obj))))
      (restore!)
      (bpf-object-close! obj))))

(warm-cache!)

;; XDP.
(define pxdp (measure 'xdp xdp-decl
                      (lambda (p v) (xdp-runs? p))
                      ping-counted?))
(format #t "xdp-mode ~a~%" (xdp-mode))
(let ((link (car (bpf-program-links pxdp))))
  (steps 'xdp xdp-fn
         (lambda (obj) (bpf-link-update! link obj))
         (lambda () (bpf-link-update! link (bpf-program-object pxdp)))))
(check "xdp: the program's own version runs again" (xdp-runs? pxdp))
(bpf-unload! pxdp)
(check "xdp: nothing attached after unload" (not (attached-xdp-id)))

;; Tracepoint.
(define ptp (measure 'tracepoint tp-decl
                     (lambda (p v) (getpid-counted? v))
                     getpid-counted?))
(define slot (make-bpf-map '((name . "swap-bench-slot") (kind . prog-array)
                             (max-entries . 1))))
(steps 'tracepoint tp-fn
       (lambda (obj) (bpf-map-set! slot 0 (bpf-object-fd obj)))
       (lambda () #t))
(bpf-unload! ptp)

(exit (if (zero? failures) 0 1))
