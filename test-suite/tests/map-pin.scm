;;; Pinning: a pinned map outlives its handle and is read, with its BTF,
;;; from a second Guile process.
(use-modules (harness) (ebpf) (srfi srfi-64) (ice-9 popen) (ice-9 rdelim))

(harness-begin "map-pin" 'kernel)

(define dir (format #f "/sys/fs/bpf/guile-ebpf-test-~a" (getpid)))
(unless (file-exists? dir) (mkdir dir))

(define (other-process expr)
  ;; Run EXPR in a fresh guile (same uninstalled tree) and read its result.
  (let* ((port (open-pipe* OPEN_READ "guile" "--no-auto-compile" "-c"
                           (format #f "(use-modules (ebpf)) (write ~a)" expr)))
         (out (read port)))
    (close-pipe port)
    out))

(defbpf-struct conn (saddr ipv4) (sport be16) (comm (string 8)))
(defbpf-map pinned #:kind 'hash #:key 'conn #:value 'u64)
(bpf-map-set! pinned (make-conn #:saddr "10.0.0.7" #:sport 8080 #:comm "curl") 3)
(define path (string-append dir "/pinned"))
(test-equal "pin! returns the path" path (bpf-map-pin! pinned path))
(test-assert "pin exists in bpffs" (file-exists? path))
(test-equal "pin-path recorded" path (bpf-map-pin-path pinned))
(test-ebpf-error "pinning twice at one path" 'ebpf-map-error ("EEXIST")
                 (bpf-map-pin! (defbpf-map other #:kind 'hash #:key 'u32 #:value 'u32) path))

(test-equal "second process decodes keys and values from BTF"
            '((((saddr . "10.0.0.7") (sport . 8080) (comm . "curl")) . 3))
            (other-process
             (format #f "(bpf-map->alist (bpf-map-open-pinned ~s))" path)))
(test-equal "second process writes; we read" 9
            (begin
              (other-process
               (format #f "(begin (bpf-map-set! (bpf-map-open-pinned ~s) '((saddr . \"1.2.3.4\")) 9) #t)" path))
              (bpf-map-ref pinned (make-conn #:saddr "1.2.3.4"))))

;; Untyped map, closed here, still alive through its pin.
(defbpf-map raw #:kind 'array #:key-size 4 #:value-size 8 #:max-entries 4)
(bpf-map-set! raw 2 77)
(define raw-path (string-append dir "/raw"))
(bpf-map-pin! raw raw-path)
(bpf-map-close! raw)
(test-equal "pinned map outlives our handle" 77
            (bpf-map-ref (bpf-map-open-pinned raw-path) 2))
(let ((m (bpf-map-open-pinned raw-path)))
  (test-equal "open-pinned kind" 'array (bpf-map-kind m))
  (test-equal "open-pinned sizes" '(4 8 4)
              (list (bpf-map-key-size m) (bpf-map-value-size m) (bpf-map-max-entries m))))

;; A declared #:pin-path is created and pinned on first use, and reused
;; by a later declaration of the same shape.
(define decl-path (string-append dir "/declared"))
(defbpf-map declared #:kind 'hash #:key 'u32 #:value 'u32 #:pin-path decl-path)
(bpf-map-set! declared 1 100)
(test-assert "declared pin-path pinned on creation" (file-exists? decl-path))
(test-equal "other process sees declared pin" 100
            (other-process (format #f "(bpf-map-ref (bpf-map-open-pinned ~s) 1)" decl-path)))
(bpf-map-close! declared)
(defbpf-map declared2 #:kind 'hash #:key 'u32 #:value 'u32 #:pin-path decl-path)
(test-equal "redeclared pinned map reuses the pin's data" 100 (bpf-map-ref declared2 1))
(test-ebpf-error "pin of another shape refused" 'ebpf-map-error ("another shape")
                 (bpf-map-create!
                  (defbpf-map declared3 #:kind 'hash #:key 'u64 #:value 'u32
                    #:pin-path decl-path)))

;; Per-CPU struct values (xdp-tutorial basic04's stats reader): summed
;; field by field here as records, there as alists.
(defbpf-struct pin-rec (packets u64) (bytes u64))
(defbpf-map pin-stats #:kind 'per-cpu-array #:key 'u32 #:value 'pin-rec
  #:max-entries 2)
(bpf-map-set! pin-stats 1 (make-pin-rec #:packets 2 #:bytes 100))  ; every CPU
(define stats-path (string-append dir "/stats"))
(bpf-map-pin! pin-stats stats-path)
(define ncpus (vector-length (bpf-map-ref pin-stats 1)))
(test-equal "bpf-map-ref/sum of per-CPU structs: a record of the sums"
            (list (* 2 ncpus) (* 100 ncpus))
            (let ((r (bpf-map-ref/sum pin-stats 1)))
              (list (pin-rec-packets r) (pin-rec-bytes r))))
(test-equal "... in a process without the struct: an alist of the sums"
            `((packets . ,(* 2 ncpus)) (bytes . ,(* 100 ncpus)))
            (other-process (format #f "(bpf-map-ref/sum (bpf-map-open-pinned ~s) 1)"
                                   stats-path)))
(bpf-map-unpin! pin-stats)

(test-equal "unpin!" #t (bpf-map-unpin! pinned))
(test-assert "pin gone" (not (file-exists? path)))
(test-equal "unpin! again" #f (bpf-map-unpin! pinned))
(test-ebpf-error "open-pinned on a missing path" 'ebpf-map-error ("ENOENT" "nothing-here")
                 (bpf-map-open-pinned (string-append dir "/nothing-here")))

(for-each (lambda (f) (false-if-exception (delete-file (string-append dir "/" f))))
          '("raw" "declared" "pinned"))
(rmdir dir)
(test-assert "cleaned up" (not (file-exists? dir)))

(harness-end)
