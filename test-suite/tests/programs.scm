;;; defbpf-program for real: declaration rules, every kind loading and
;;; attaching and shown to run, fallbacks, refusals, hot swap under load,
;;; and no fd leaks.
(use-modules (harness) (ebpf) ((ebpf kernel) #:select (kind-ref kind-names))
             (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 popen) (ice-9 threads) (ice-9 ftw) (rnrs bytevectors))

(harness-begin "programs" 'kernel)
(bpf-enable-stats!)   ; run counts are checked below

(define me (getpid))
(define (calls n thunk) (do ((i 0 (+ i 1))) ((= i n)) (thunk)))
(define (sh . args) (zero? (status:exit-val (apply system* args))))
(define (quiet cmd) (system (string-append cmd " >/dev/null 2>&1")))

;; ---- the tatara spelling, verbatim; a Rust source is refused at load ----
(defbpf-program
  :name "drop-syn-flood"
  :kind :xdp
  :attach (:target "eth0")
  :source "bpf/drop_syn.rs"
  :license "GPL")
(test-assert "tatara spelling binds drop-syn-flood" (bpf-program? drop-syn-flood))
(test-equal "kind" 'xdp (bpf-program-kind drop-syn-flood))
(test-equal "target from the data list" "eth0" (bpf-program-target drop-syn-flood))
(test-ebpf-error ".rs refused at load" 'ebpf-compile-error ("Rust" "drop_syn.rs")
                 (bpf-load! drop-syn-flood))
(test-assert "same form with (read-set! keywords 'prefix)"
             (let ((old (read-options)))
               (dynamic-wind
                 (lambda () (read-set! keywords 'prefix))
                 (lambda ()
                   (bpf-program?
                    (eval (with-input-from-string
                              "(defbpf-program :name \"drop-syn-flood-p\" :kind :xdp :attach (:target \"eth0\") :source \"bpf/drop_syn.rs\" :license \"GPL\")"
                            read)
                          (current-module))))
                 (lambda () (read-options old)))))

;; ---- validation at declaration ----
(defbpf-map pcount #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(bpf-fn count-all (ctx) (map-increment! pcount 0))
(define (decl . args)
  (make-bpf-program (let loop ((l args))
                      (if (null? l) '()
                          (cons (cons (keyword->symbol (car l)) (cadr l))
                                (loop (cddr l)))))))
(test-ebpf-error "xdp needs a target" 'ebpf-validation-error ("xdp programs need a target")
                 (decl #:name "v1" #:kind 'xdp #:source count-all))
(test-ebpf-error "unknown kind" 'ebpf-validation-error ("unknown kind" "warp")
                 (decl #:name "v2" #:kind 'warp #:source count-all))
(test-ebpf-error "license of a map user" 'ebpf-validation-error ("pcount" "Proprietary")
                 (decl #:name "v3" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
                       #:source count-all #:license "Proprietary"))
(test-ebpf-error "license with #:uses-maps" 'ebpf-validation-error ("not GPL-compatible")
                 (decl #:name "v4" #:kind 'tracepoint #:attach "x/y" #:source "x.bpf.o"
                       #:uses-maps '("pcount") #:license "MIT"))
(test-ebpf-error "bad source" 'ebpf-validation-error ("bad #:source")
                 (decl #:name "v5" #:kind 'xdp #:attach "lo" #:source 42))
(test-ebpf-error "unknown attach field" 'ebpf-validation-error ("unknown attach field")
                 (decl #:name "v6" #:kind 'xdp #:attach '(#:interface "lo") #:source count-all))
(test-ebpf-error "missing tracepoint at attach" 'ebpf-attach-error ("no_such_tracepoint")
                 (bpf-attach! (decl #:name "v7" #:kind 'tracepoint
                                    #:attach "syscalls/no_such_tracepoint"
                                    #:source count-all)))
(test-ebpf-error "missing interface" 'ebpf-attach-error ("nosuch0")
                 (bpf-attach! (decl #:name "v8" #:kind 'xdp #:attach "nosuch0"
                                    #:source count-all)))
(test-ebpf-error "missing source file" 'ebpf-error ("nowhere.bpf.c")
                 (bpf-load! (decl #:name "v9" #:kind 'xdp #:attach "lo"
                                  #:source "/nonexistent/nowhere.bpf.c")))

;; ---- kinds the kernel refuses, and fallbacks ----
(test-ebpf-error "fentry refused, the Fix naming its stand-in from the kernel model"
                 'ebpf-attach-error
                 ("trampoline" "tracepoint" "Fix: declare #:kind '(fentry kprobe)")
                 (bpf-attach! (decl #:name "fe" #:kind 'fentry #:attach "do_nanosleep"
                                    #:source count-all)))
(test-ebpf-error "'(fentry kprobe) fails with one error naming both" 'ebpf-attach-error
                 ("fentry:" "kprobe:")
                 (bpf-attach! (decl #:name "fk" #:kind '(fentry kprobe)
                                    #:attach "do_nanosleep" #:source count-all)))
;; The stand-in the Fix named, declared: the kernel refuses fentry with
;; EPERM and has no kprobes, so both fail, each named.
(test-ebpf-error "fexit refused, naming kretprobe" 'ebpf-attach-error
                 ("fexit" "Fix: declare #:kind '(fexit kretprobe)")
                 (bpf-attach! (decl #:name "fx" #:kind 'fexit #:attach "do_nanosleep"
                                    #:source count-all)))
(test-ebpf-error "a stand-in of another context class is refused at declaration"
                 'ebpf-validation-error
                 ("program fxdp" "xdp cannot stand in for fentry" "a packet"
                  "declare #:kind '(fentry kprobe)")
                 (decl #:name "fxdp" #:kind '(fentry xdp) #:attach "do_nanosleep"
                       #:source count-all))
(let ((p (decl #:name "fb" #:kind '(fentry tracepoint)
               #:attach "syscalls/sys_enter_getpid" #:source count-all)))
  (bpf-attach! p)
  (test-equal "a fallback list takes the first kind that works" 'tracepoint
              (bpf-program-kind p))
  (bpf-unload! p))

;; ---- bpf-object-attach goes through the kernel model's attach column ----
;; An xdp object offered to every kind's attach function: each refuses it
;; (a missing target named as the table says, or the wrong program type)
;; before anything is attached.
(let* ((p (bpf-load! (decl #:name "attach_table" #:kind 'xdp #:attach "lo"
                           #:source count-all)))
       (obj (bpf-program-object p)))
  (for-each
   (lambda (kind)
     (let ((hint (kind-ref kind 'target))
           (attach (kind-ref kind 'attach)))
       (test-assert (format #f "~a: attach function ~a" kind attach)
                    (memq attach '(tracepoint raw-tracepoint trace kprobe uprobe
                                   usdt xdp tc cgroup perf-event socket)))
       (if (memq attach '(xdp tc cgroup tracepoint raw-tracepoint kprobe
                          uprobe usdt))
           (test-ebpf-error (format #f "~a without a target names what one is" kind)
                            'ebpf-validation-error
                            ((format #f "a ~a program needs #:target (~a)" kind hint))
                            (bpf-object-attach obj #:kind kind))
           (test-assert (format #f "~a: the xdp object is refused" kind)
                        (catch #t
                          (lambda () (bpf-object-attach obj #:kind kind) #f)
                          (lambda (key . args) (ebpf-error? key)))))))
   (kind-names))
  (test-ebpf-error "a kind outside the table lists the table's"
                   'ebpf-validation-error
                   ("cannot attach a program of kind warp" "xdp tc")
                   (bpf-object-attach obj #:kind 'warp))
  (bpf-unload! p))

;; ---- sources: .bpf.c, .bpf.o, file.scm:fn ----
(define tmp (format #f "/tmp/guile-ebpf-programs-~a" me))
(unless (file-exists? tmp) (mkdir tmp))
(define (write-file name text)
  (let ((f (string-append tmp "/" name)))
    (call-with-output-file f (lambda (p) (display text p)))
    f))
(define c-src
  (write-file "count.bpf.c" "
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8);
         __type(key, __u32); __type(value, __u64); } pcount SEC(\".maps\");
const volatile __u64 me = 0;
SEC(\"tracepoint/syscalls/sys_enter_getpid\")
int count(void *ctx)
{
  __u32 k = 1;
  __u64 *v;
  if ((bpf_get_current_pid_tgid () >> 32) != me) return 0;
  v = bpf_map_lookup_elem (&pcount, &k);
  if (v) __sync_fetch_and_add (v, 1);
  return 0;
}
char LICENSE[] SEC(\"license\") = \"GPL\";
"))
(define p-c (decl #:name "from-c" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
                  #:source c-src #:constants `((me . ,me))))
(bpf-attach! p-c)
(calls 100 getpid)
(bpf-unload! p-c)
(test-equal ".bpf.c source shares the declared map" 100 (bpf-map-ref pcount 1))
(test-assert "bpf-program-c of a .bpf.c" (string-contains (bpf-program-c p-c) "sys_enter_getpid"))
(define obj-path (bpf-build-file c-src))
(define p-o (decl #:name "from-o" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
                  #:source obj-path #:constants `((me . ,me))))
(bpf-attach! p-o)
(calls 10 getpid)
(bpf-unload! p-o)
(test-equal ".bpf.o source" 110 (bpf-map-ref pcount 1))
(define scm-src
  (write-file "probe.scm"
              "(bpf-fn counter (ctx) (when (= (pid) (const me)) (map-increment! pcount 2)))"))
(define p-s (decl #:name "from-scm" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
                  #:source (string-append scm-src ":counter") #:constants `((me . ,me))))
(bpf-attach! p-s)
(calls 20 getpid)
(bpf-unload! p-s)
(test-equal "\"file.scm:fn\" source" 20 (bpf-map-ref pcount 2))

;; ---- lifecycle, introspection ----
(bpf-fn count-me (ctx) (when (= (pid) (const me)) (map-increment! pcount 3)))
(define p-life (decl #:name "life" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
                     #:source count-me #:constants `((me . ,me))))
(test-assert "not loaded at declaration" (not (bpf-program-loaded? p-life)))
(bpf-load! p-life)
(test-assert "loaded" (bpf-program-loaded? p-life))
(test-assert "not attached by loading" (not (bpf-program-attached? p-life)))
(bpf-attach! p-life)
(test-assert "attached" (bpf-program-attached? p-life))
(calls 7 getpid)
(define life-stats (bpf-program-stats p-life))
(bpf-detach! p-life)
(test-assert "detached" (not (bpf-program-attached? p-life)))
(calls 7 getpid)
(test-equal "counted while attached only" 7 (bpf-map-ref pcount 3))
(let ((st life-stats))
  (test-assert "stats: xlated instructions" (> (assq-ref st 'xlated-insns) 0))
  (test-assert "stats: jited bytes" (> (assq-ref st 'jited-bytes) 0))
  (test-assert "stats: verified instructions" (> (assq-ref st 'verified-insns) 0))
  ;; The dispatcher runs for every process's getpid; the body filters.
  (test-assert "stats: run count through the dispatcher" (>= (assq-ref st 'run-count) 7)))
(test-equal "digest is a sha256" 64 (string-length (bpf-program-digest p-life)))
(test-assert "generated C kept" (string-contains (bpf-program-c p-life) "SEC(\"tracepoint/syscalls/sys_enter_getpid\")"))
(test-assert "bpf-programs lists it"
             (any (lambda (e) (equal? (assq-ref e 'name) "count_me")) (bpf-programs)))
(bpf-unload! p-life)
(test-assert "unloaded" (not (bpf-program-loaded? p-life)))
(test-equal "unloading keeps map contents" 7 (bpf-map-ref pcount 3))

;; ---- networking kinds on a veth pair with a peer in a namespace ----
(define ns (format #f "gebpf-t~a" me))
(define host-if (format #f "gt~ah" (modulo me 100000)))
(define peer-if (format #f "gt~ap" (modulo me 100000)))
;; A /30 of this process's own, so that two runs at once (make check and
;; make distcheck on one machine) do not answer each other's pings.
(define subnet-base
  (format #f "10.198.~a." (quotient (modulo me 16384) 64)))
(define host-ip (string-append subnet-base (number->string (+ 1 (* 4 (modulo me 64))))))
(define peer-ip (string-append subnet-base (number->string (+ 2 (* 4 (modulo me 64))))))
(define (setup-veth!)
  (quiet (string-append "ip netns del " ns))
  (and (sh "ip" "netns" "add" ns)
       (sh "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
       (sh "ip" "link" "set" peer-if "netns" ns)
       (sh "ip" "addr" "add" (string-append host-ip "/30") "dev" host-if)
       (sh "ip" "link" "set" host-if "up")
       (sh "ip" "netns" "exec" ns "ip" "addr" "add" (string-append peer-ip "/30")
           "dev" peer-if)
       (sh "ip" "netns" "exec" ns "ip" "link" "set" peer-if "up")
       (sh "ip" "netns" "exec" ns "ip" "link" "set" "lo" "up")))
(define (ping-from-ns n)
  (zero? (status:exit-val
          (system (format #f "ip netns exec ~a ping -c ~a -i 0.2 -W 1 ~a >/dev/null 2>&1"
                          ns n host-ip)))))
(test-assert "veth pair and namespace" (setup-veth!))

(defbpf-map icmp-seen #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn xdp-count (ctx)
  (when (= (proto ctx) :icmp)
    (map-increment! icmp-seen 0)
    (when (= (const drop) 1) (return :xdp-drop))))
(for-each
 (lambda (mode)
   (bpf-map-clear! icmp-seen)
   (let ((p (decl #:name (format #f "xdp-~a" mode) #:kind 'xdp
                  #:attach `(#:target ,host-if #:mode ,mode)
                  #:source xdp-count #:constants '((drop . 0)))))
     (bpf-attach! p)
     (test-assert (format #f "XDP ~a: ping passes" mode) (ping-from-ns 3))
     (test-assert (format #f "XDP ~a: echo requests counted" mode)
                  (>= (bpf-map-ref icmp-seen 0) 3))
     (let ((p2 (bpf-program-set-constants! p '((drop . 1)))))
       (test-assert (format #f "XDP ~a: swapped to dropping, ping fails" mode)
                    (not (ping-from-ns 2)))
       (bpf-unload! p2))
     (test-assert (format #f "XDP ~a: detached, ping passes again" mode)
                  (ping-from-ns 1))))
 '(generic native))

(bpf-fn tc-count (ctx)
  (when (= (proto ctx) :icmp) (map-increment! icmp-seen 1)))
(let ((p (decl #:name "tc-in" #:kind 'tc
               #:attach `(#:target ,host-if #:direction ingress) #:source tc-count)))
  (bpf-attach! p)
  (ping-from-ns 3)
  (test-assert "TC ingress counts real packets" (>= (bpf-map-ref icmp-seen 1) 3))
  ;; Re-declared: the filter is replaced in place, not doubled.
  (let ((p2 (decl #:name "tc-in" #:kind 'tc
                  #:attach `(#:target ,host-if #:direction ingress)
                  #:source (bpf-fn tc-count-v2 (ctx)
                             (when (= (proto ctx) :icmp) (map-increment! icmp-seen 3))))))
    (let* ((port (open-input-pipe (format #f "tc filter show dev ~a ingress" host-if)))
           (out (read-string port)))
      (close-pipe port)
      (test-assert "TC swap: one filter, the new version"
                   (and (string-contains out "tc_count_v2")
                        (not (string-contains out "name tc_count ")))))
    (ping-from-ns 2)
    (test-assert "TC swap: the new version counts" (>= (bpf-map-ref icmp-seen 3) 2))
    (bpf-unload! p2)))
(let ((p (decl #:name "tc-out" #:kind 'tc
               #:attach `(#:target ,host-if #:direction egress) #:source
               (bpf-fn tc-count-out (ctx)
                 (when (= (proto ctx) :icmp) (map-increment! icmp-seen 2))))))
  (bpf-attach! p)
  (ping-from-ns 3)
  (bpf-unload! p)
  (test-assert "TC egress counts the replies" (>= (bpf-map-ref icmp-seen 2) 3)))
(quiet (string-append "ip netns del " ns))

;; ---- socket filter on a Guile socket ----
(define (udp-pair)
  (let ((rx (socket PF_INET SOCK_DGRAM 0))
        (tx (socket PF_INET SOCK_DGRAM 0)))
    (bind rx AF_INET INADDR_LOOPBACK 0)
    (values rx tx (sockaddr:port (getsockname rx)))))
(define (receive? rx)
  (let ((r (select (list rx) '() '() 0 300000)))
    (and (pair? (car r))
         (let ((buf (make-bytevector 64)))
           (recv! rx buf)
           #t))))
(bpf-fn sock-filter (ctx)
  (map-increment! pcount 4)
  (if (= (const keep) 1) (return 'allow) (return 'deny)))
(for-each
 (lambda (keep)
   (call-with-values udp-pair
     (lambda (rx tx port)
       (let ((p (decl #:name (format #f "sf~a" keep) #:kind 'socket-filter
                      #:source sock-filter #:constants `((keep . ,keep)))))
         (bpf-load! p)
         (bpf-attach-socket! (bpf-program-object p) rx)
         (sendto tx (string->utf8 "ping") AF_INET INADDR_LOOPBACK port)
         (test-equal (format #f "socket filter ~a" (if (= keep 1) "keeps" "drops"))
                     (= keep 1) (receive? rx))
         (bpf-unload! p)
         (close rx) (close tx)))))
 '(1 0))
(test-assert "socket filter ran" (>= (bpf-map-ref pcount 4) 2))

;; ---- cgroup-skb on a test cgroup ----
(define cg (format #f "/sys/fs/cgroup/unified/gebpf-test-~a" me))
(unless (file-exists? cg) (mkdir cg))
(bpf-fn cg-egress (ctx)
  (map-increment! pcount 5)
  (if (= (proto ctx) :udp) (return 'deny) (return 'allow)))
(let ((p (decl #:name "cg-out" #:kind 'cgroup-skb
               #:attach `(#:target ,cg #:direction egress) #:source cg-egress)))
  (bpf-attach! p)
  (call-with-values udp-pair
    (lambda (rx tx port)
      ;; A child moved into the cgroup sends; its datagram is denied.
      (system (format #f "sh -c 'echo $$ > ~a/cgroup.procs; exec guile --no-auto-compile -c \"(use-modules (rnrs bytevectors)) (let ((s (socket PF_INET SOCK_DGRAM 0))) (false-if-exception (sendto s (string->utf8 \\\"x\\\") AF_INET INADDR_LOOPBACK ~a)))\"'" cg port))
      (test-assert "cgroup-skb egress denied the child's datagram" (not (receive? rx)))
      (close rx) (close tx)))
  (bpf-unload! p)
  (test-assert "cgroup-skb ran" (> (bpf-map-ref pcount 5) 0)))
(false-if-exception (rmdir cg))

;; ---- uprobe on a libc function, filtered by pid ----
(define libc
  (call-with-input-file "/proc/self/maps"
    (lambda (port)
      (let loop ()
        (let ((l (read-line port)))
          (cond ((eof-object? l) #f)
                ((string-contains l "/libc.so")
                 (substring l (string-index l #\/)))
                (else (loop))))))))
(test-assert "libc found" (string? libc))
(let ((p (decl #:name "up" #:kind 'uprobe
               #:attach `(#:target ,(string-append libc ":getppid") #:pid ,me)
               #:source (bpf-fn up-count (ctx) (map-increment! pcount 6)))))
  (bpf-attach! p)
  (calls 25 getppid)
  (bpf-unload! p)
  (test-equal "uprobe on libc getppid counts exactly, filtered by pid" 25
              (bpf-map-ref pcount 6)))

;; ---- perf event sampling ----
(let ((p (decl #:name "perf" #:kind 'perf-event #:attach '(#:frequency 99)
               #:source (bpf-fn perf-count (ctx) (map-increment! pcount 7)))))
  (bpf-attach! p)
  (let ((end (+ (get-internal-real-time) (* 300 (/ internal-time-units-per-second 1000)))))
    (let loop () (when (< (get-internal-real-time) end) (loop))))
  (bpf-unload! p)
  (test-assert "perf-event at 99 Hz samples" (> (bpf-map-ref pcount 7) 0)))
;; ---- software events, bpftrace's software:NAME:COUNT ----
(defbpf-map swcount #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(define (waiting-child body)
  ;; A guile child that runs BODY once told to (after the attach), then
  ;; says "done"; returns (PORT . PID).
  (let ((port (open-pipe* OPEN_BOTH "guile" "--no-auto-compile" "-c"
                          (format #f "(begin (use-modules (ice-9 rdelim)) (display (getpid)) (newline) (force-output) (read-line) ~a (display \"done\") (newline) (force-output))" body))))
    (cons port (string->number (read-line port)))))
(define (run-child! c)
  (display "go\n" (car c)) (force-output (car c))
  (read-line (car c))
  (close-pipe (car c)))
(let* ((c (waiting-child "(let loop ((i 0)) (when (< i 16) (make-bytevector (* 1024 1024) 1) (loop (+ i 1))))"))
       (p (decl #:name "swpf" #:kind 'perf-event
                #:attach '(#:target "software:page-faults:1")
                #:source (bpf-fn sw-faults (ctx)
                           (when (= (tgid) (const who)) (map-increment! swcount 0)))
                #:constants `((who . ,(cdr c))))))
  (bpf-attach! p)
  (test-assert "software:page-faults link names the event"
               (string-contains (format #f "~a" (bpf-program-links p))
                                "page-faults every 1"))
  (run-child! c)
  (bpf-unload! p)
  ;; 16 MiB of fresh pages is 4096 pages of 4 KiB (fewer if huge pages).
  (test-assert "software:page-faults counts the child's faults"
               (> (bpf-map-ref swcount 0) 100)))
(let* ((c (waiting-child "(let loop ((i 0)) (when (< i 20) (usleep 2000) (loop (+ i 1))))"))
       (p (decl #:name "swcs" #:kind 'perf-event
                #:attach '(#:target "software:cs:1")
                #:source (bpf-fn sw-cs (ctx)
                           (when (= (tgid) (const who)) (map-increment! swcount 1)))
                #:constants `((who . ,(cdr c))))))
  (bpf-attach! p)
  (run-child! c)
  (bpf-unload! p)
  (test-assert "software:cs counts a sleeping child's switches"
               (>= (bpf-map-ref swcount 1) 20)))
(test-ebpf-error "unknown software event" 'ebpf-validation-error
                 ("software:page-fault" "Fix")
                 (let ((p (decl #:name "swbad" #:kind 'perf-event
                                #:attach '(#:target "software:page-fault")
                                #:source count-all)))
                   (bpf-attach! p)))
(test-ebpf-error "bad software event count" 'ebpf-validation-error
                 ("count" "Fix")
                 (let ((p (decl #:name "swbad2" #:kind 'perf-event
                                #:attach '(#:target "software:faults:0")
                                #:source count-all)))
                   (bpf-attach! p)))
;; No PMU in most VMs: the kernel refuses a hardware event (ENOENT).
;; The first attach builds the program's dispatcher (kept until unload);
;; a refused attach must keep no perf event fd and no link.
(define (fd-now) (gc) (length (scandir "/proc/self/fd")))
(let* ((loaded-before (fd-now))
       (p (decl #:name "hwcyc" #:kind 'perf-event
                #:attach '(#:target "hardware:cycles:100000")
                #:source count-all))
       (try (lambda ()
              (catch #t
                (lambda () (bpf-attach! p) 'attached)
                (lambda (k . args) (cons k args))))))
  (bpf-load! p)
  (let* ((r (try))
         (before (fd-now))
         (r2 (try)))
    (if (eq? r 'attached)
        (test-assert "hardware:cycles attached (a PMU is present)" #t)
        (begin
          (test-assert "hardware:cycles refused, naming the event and a Fix"
                       (let ((s (format #f "~a" r)))
                         (and (eq? (car r) 'ebpf-attach-error)
                              (string-contains s "cycles")
                              (string-contains s "Fix"))))
          (test-equal "a refused hardware event leaves no link" '()
                      (bpf-program-links p))
          (test-equal "a refused hardware event leaks no fd" before
                      (fd-now)))))
  (bpf-unload! p)
  (test-assert "unloading after a refused hardware event frees every fd"
               (<= (fd-now) loaded-before)))

;; ---- hot swap under load: nothing lost, nothing doubled ----
(defbpf-map versions #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(define child
  ;; Calls getpid until told to stop, then says how many calls it made.
  (open-pipe* OPEN_BOTH "guile" "--no-auto-compile" "-c"
              "(begin (use-modules (ice-9 rdelim)) (display \"ready\") (newline) (force-output) (read-line) (let loop ((i 0)) (if (and (zero? (modulo i 1000)) (char-ready? (current-input-port))) (begin (display i) (newline) (force-output) (read-line)) (begin (getpid) (loop (+ i 1))))))"))
(define child-pid
  (begin (read-line child)
         ;; The pipe's child is the guile process: find it by its parent.
         (let ((pids (filter-map string->number (scandir "/proc"))))
           (find (lambda (p)
                   (false-if-exception
                    (let ((stat (call-with-input-file (format #f "/proc/~a/stat" p) read-line)))
                      (and (string-contains stat "(guile)")
                           (= me (string->number (list-ref (string-split stat #\space) 3)))))))
                 pids))))
(test-assert "load generator started" (integer? child-pid))
(define (version-fn key)
  (eval `(bpf-fn ,(symbol-append 'hot- (string->symbol (number->string key))) (ctx)
           (when (= (pid) (const who)) (map-increment! versions ,key)))
        (current-module)))
(define v0 (version-fn 0))
(define v1 (version-fn 1))
(define (declare-hot fn)
  (decl #:name "hot" #:kind 'tracepoint #:attach "syscalls/sys_enter_getpid"
        #:source fn #:constants `((who . ,child-pid))))
(bpf-attach! (declare-hot v0))
(write-line "go" child)
(force-output child)
(define swaps
  (let loop ((i 0))
    (if (= i 20)
        i
        (begin (declare-hot (if (even? i) v1 v0)) (loop (+ i 1))))))
(write-line "stop" child)
(force-output child)
(define n-calls (string->number (read-line child)))
(bpf-unload! "hot")
(close-pipe child)
(test-equal "20 swaps" 20 swaps)
(test-assert "the load generator ran throughout" (> n-calls 10000))
(test-equal "sum of both versions' counts = the calls made" n-calls
            (+ (bpf-map-ref versions 0) (bpf-map-ref versions 1)))
(test-assert "both versions counted: the swaps happened under load" (and (> (bpf-map-ref versions 0) 0)
                                          (> (bpf-map-ref versions 1) 0)))

;; ---- a failed swap keeps the old version running ----
(define p-keep (bpf-attach! (decl #:name "keeper" #:kind 'tracepoint
                                  #:attach "syscalls/sys_enter_getpid"
                                  #:source count-me #:constants `((me . ,me)))))
(define bad-src
  (write-file "bad.bpf.c" "
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC(\"tracepoint/syscalls/sys_enter_getpid\")
int bad(void *ctx) { return *(int *)0; }
char LICENSE[] SEC(\"license\") = \"GPL\";
"))
(test-ebpf-error "new version rejected by the verifier" 'ebpf-verifier-error ("bad")
                 (decl #:name "keeper" #:kind 'tracepoint
                       #:attach "syscalls/sys_enter_getpid" #:source bad-src))
(let ((before (bpf-map-ref pcount 3)))
  (calls 9 getpid)
  (test-equal "the old version still counts" (+ before 9) (bpf-map-ref pcount 3)))
(test-assert "the old version is still attached" (bpf-program-attached? p-keep))
(bpf-unload! p-keep)

;; ---- 500 load/attach/detach/unload cycles leak no fd ----
;; (A raw tracepoint: the kernel takes ~70 ms to detach a perf-event
;; tracepoint, which would make this test slow, not more thorough.)
(define (fd-count) (length (scandir "/proc/self/fd")))
(let ((p (decl #:name "cycle" #:kind 'raw-tracepoint #:attach "sys_enter"
               #:source count-me #:constants `((me . ,me)))))
  (bpf-attach! p) (bpf-unload! p)
  (gc)
  (let ((before (fd-count)))
    (calls 500 (lambda () (bpf-load! p) (bpf-attach! p) (bpf-detach! p) (bpf-unload! p)))
    (gc)
    (test-equal "fd count unchanged after 500 cycles" before (fd-count))))

;; tracepoints-matching: an exact name is looked up, a glob scanned;
;; both give the same answer.
(test-equal "an exact tracepoint, either separator"
            '(("syscalls:sys_enter_getpid") ("syscalls:sys_enter_getpid"))
            (list (tracepoints-matching "syscalls/sys_enter_getpid")
                  (tracepoints-matching "syscalls:sys_enter_getpid")))
(test-equal "an exact name matches as the glob of itself does"
            (tracepoints-matching "syscalls/sys_enter_getp[i]d")
            (tracepoints-matching "syscalls/sys_enter_getpid"))
(test-equal "no such tracepoint, and no path out of tracefs" '(() ())
            (list (tracepoints-matching "syscalls/sys_enter_nosuch")
                  (tracepoints-matching "syscalls/../../..")))

(system (string-append "rm -rf " tmp))
(harness-end)
