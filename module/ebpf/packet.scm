;;; (ebpf packet) --- (being written).
(define-module (ebpf packet))
