// ipvsadm entry point: ipvsadm 1.31's command line against the lvsd of this network namespace.
import Glibc
import IPVSAdmKit
import LVSControl

var args = CommandLine.arguments
let invokedAs = args.isEmpty ? "ipvsadm" : args.removeFirst()
let base = invokedAs.split(separator: "/").last.map(String.init) ?? invokedAs

let endpoint = controlEndpointOrExit(program: "ipvsadm")

// Multi-call: installed as ipvsadm-save / ipvsadm-restore it behaves like those scripts.
var program = invokedAs
var input: any IPVSAdmInput = FileDescriptorInput()
switch base {
case "ipvsadm-save":
    program = "ipvsadm"
    args = ["-S"] + args
case "ipvsadm-restore":
    program = "ipvsadm"
    args = ["-R"] + args
    input = CommentStrippingInput(input)
default:
    break
}

let ipvsadm = IPVSAdm(
    program: program, backend: ControlSocketBackend(endpoint: endpoint), resolver: SystemResolver(),
    output: FileDescriptorOutput(), input: input)
// -R of a large file says how far it got, on stderr and only when that is a terminal.
if args.contains("-R") || args.contains("--restore") {
    ipvsadm.restoreProgress = TerminalRestoreProgress.forTerminal()
}
exit(ipvsadm.run(bytes: args.map { Array($0.utf8) }))
