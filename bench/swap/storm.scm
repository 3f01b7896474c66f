;;; storm.scm --- are events lost or doubled while a program is swapped?
;;;
;;;   guile storm.scm tracepoint|xdp
;;;
;;; Environment: STORM_GEN (the storm_gen binary), STORM_EVENTS (events
;;; in the storm), STORM_SWAPS (swaps to make during it), and for xdp
;;; STORM_IFACE (where the program goes), STORM_PEER_NS and STORM_ADDR
;;; (the namespace storm_gen sends from, and the address it sends to).
;;;
;;; storm_gen makes numbered events: close() calls of one process on
;;; fds that carry the number (tracepoint syscalls/sys_enter_close), or
;;; UDP datagrams whose destination port carries it (XDP on STORM_IFACE,
;;; generic mode, the datagrams dropped).  Two versions of the program
;;; count every event by its number, and each version also counts the
;;; events it saw.  While the storm runs, the attached program is
;;; re-declared with the other version again and again (the hot swap of
;;; defbpf-program): through the dispatcher for the tracepoint, by
;;; bpf_link_update for XDP.  At the end every number must have been
;;; counted exactly as many times as it was sent.  Prints:
;;;   swaps N             swaps made while the storm ran
;;;   events N            events sent
;;;   lost N / doubled N  events not counted / counted more than once
;;;   version-0 N / version-1 N   events each version counted

(use-modules (ebpf) (ice-9 format) (ice-9 popen) (ice-9 rdelim))

(define mode (string->symbol (cadr (command-line))))
(define gen (getenv "STORM_GEN"))
(define events (string->number (or (getenv "STORM_EVENTS") "2000000")))
(define swaps-wanted (string->number (or (getenv "STORM_SWAPS") "300")))
(define iface (getenv "STORM_IFACE"))
(define modulus (if (eq? mode 'xdp) 60000 1048576))

(defbpf-map storm-seen #:kind 'array #:key 'u32 #:value 'u64
  #:max-entries modulus)
(defbpf-map storm-versions #:kind 'array #:key 'u32 #:value 'u64
  #:max-entries 2)

(define (version k)
  ;; Version K of the program: the same counting, K in its body.
  (eval
   (if (eq? mode 'xdp)
       `(bpf-fn ,(symbol-append 'storm-xdp- (string->symbol (number->string k)))
            (ctx)
          (let* ((ip (packet-ipv4 ctx))
                 (udp (packet-udp ip)))
            (if (and udp (>= (udp-dport udp) 2000)
                     (< (udp-dport udp) (+ 2000 ,modulus)))
                (begin
                  (map-increment! storm-seen (- (udp-dport udp) 2000))
                  (map-increment! storm-versions ,k)
                  (return :xdp-drop))
                (return :xdp-pass))))
       `(bpf-fn ,(symbol-append 'storm-tp- (string->symbol (number->string k)))
            (ctx)
          (when (= (tgid) (const gen))
            (let ((fd (arg ctx 'fd)))
              (when (and (>= fd 1000000000) (< fd (+ 1000000000 ,modulus)))
                (map-increment! storm-seen (- fd 1000000000))
                (map-increment! storm-versions ,k))))))
   (current-module)))

(define versions (vector (version 0) (version 1)))

(define child
  (if (eq? mode 'xdp)
      (open-pipe* OPEN_BOTH "ip" "netns" "exec" (getenv "STORM_PEER_NS")
                  gen "udp" (number->string events) (getenv "STORM_ADDR"))
      (open-pipe* OPEN_BOTH gen "tp" (number->string events))))
(define gen-pid
  (let ((l (read-line child)))
    (string->number (cadr (string-split l #\space)))))

(define (declare k)
  (if (eq? mode 'xdp)
      (defbpf-program storm-xdp
        #:kind 'xdp
        #:attach `(#:target ,iface #:mode generic)
        #:source (vector-ref versions k))
      (defbpf-program storm-tp
        #:kind 'tracepoint
        #:attach "syscalls/sys_enter_close"
        #:source (vector-ref versions k)
        #:constants `((gen . ,gen-pid)))))

(define prog (bpf-attach! (declare 0)))
;; Both versions built once before the storm: the swaps are warm.
(declare 1)
(declare 0)

(write-line "go" child)
(force-output child)
(define (storm-over?)
  ;; storm_gen exits when done: a zombie until close-pipe reaps it.
  (let ((stat (false-if-exception
               (call-with-input-file (format #f "/proc/~a/stat" gen-pid)
                 read-line))))
    (or (not stat)
        (let ((after (string-index-right stat #\))))
          (char=? #\Z (string-ref stat (+ after 2)))))))
(define swaps
  (let loop ((i 0))
    (if (or (= i swaps-wanted) (storm-over?))
        i
        (begin (declare (modulo (+ i 1) 2)) (loop (+ i 1))))))
(define done (read-line child))
(close-pipe child)
;; Let the last events drain through the program before reading.
(usleep 200000)

(define (expected j)
  ;; How many of the events 0 .. EVENTS-1 carry the number J.
  (+ (quotient events modulus) (if (< j (remainder events modulus)) 1 0)))
(define-values (lost doubled)
  (let loop ((j 0) (lost 0) (doubled 0))
    (if (= j modulus)
        (values lost doubled)
        (let ((got (bpf-map-ref storm-seen j))
              (want (expected j)))
          (loop (+ j 1)
                (+ lost (max 0 (- want got)))
                (+ doubled (max 0 (- got want))))))))
(bpf-unload! prog)

(format #t "swaps ~a~%events ~a~%lost ~a~%doubled ~a~%version-0 ~a~%version-1 ~a~%"
        swaps events lost doubled
        (bpf-map-ref storm-versions 0) (bpf-map-ref storm-versions 1))
(unless (equal? done (format #f "done ~a" events))
  (format (current-error-port) "storm.scm: storm_gen said ~s~%" done)
  (exit 1))
