// Health-check labs: lvsd -f in a director namespace, real nginx real servers, a real SMTP server.
import Foundation
import Testing

/// A lab network, all in namespaces this test creates:
///
/// ```
///  director (lvsd -f)                 rs1: nginx "rs1 nginx"  192.168.0.223
///   br0 192.168.0.221/24 ──veth────── rs2: nginx "rs2 nginx"  192.168.0.224
///                        ──veth────── mail: aiosmtpd          192.168.0.230:25
/// ```
final class HealthLab {
    let director: Lab.Namespace
    let rs1: Lab.Namespace
    let rs2: Lab.Namespace
    let mail: Lab.Namespace
    let dir: String
    var nginx: [String: pid_t] = [:]
    var lvsd: pid_t = 0
    var smtpd: pid_t = 0

    static let nginxBinary = "/usr/sbin/nginx"

    /// A python3 that can import aiosmtpd (PyPI), if any.
    static let smtpPython: String? = {
        for p in ["/root/.pyenv/versions/3.11.7/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3"]
        where FileManager.default.isExecutableFile(atPath: p) {
            if let r = try? Lab.run([p, "-c", "import aiosmtpd"]), r.status == 0 { return p }
        }
        if let r = try? Lab.run(["/usr/bin/env", "python3", "-c", "import sys, aiosmtpd; print(sys.executable)"]),
            r.status == 0
        {
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return nil
    }()

    static var canRun: Bool { Lab.canRun && FileManager.default.isExecutableFile(atPath: nginxBinary) }

    let rs1Address: String
    let rs2Address: String

    init(_ tag: String, rs1Address: String = "192.168.0.223", rs2Address: String = "192.168.0.224") throws {
        self.rs1Address = rs1Address
        self.rs2Address = rs2Address
        dir = try Lab.temporaryDirectory()
        director = try Lab.Namespace("\(tag)d")
        rs1 = try Lab.Namespace("\(tag)1")
        rs2 = try Lab.Namespace("\(tag)2")
        mail = try Lab.Namespace("\(tag)m")
        try ip(director, "link set lo up")
        try ip(director, "link add br0 type bridge")
        try ip(director, "link set br0 up")
        try ip(director, "addr add 192.168.0.221/24 dev br0")
        for (ns, name, address) in [
            (rs1, "vr1", rs1Address), (rs2, "vr2", rs2Address), (mail, "vm", "192.168.0.230"),
        ] {
            // Each veth is created inside the director's namespace with its peer moved straight
            // into the other namespace: nothing ever appears in the host's namespace.
            try ip(director, "link add \(name) type veth peer name eth0 netns \(ns.name)")
            try ip(director, "link set \(name) master br0 up")
            try ip(ns, "link set lo up")
            try ip(ns, "addr add \(address)/24 dev eth0")
            try ip(ns, "link set eth0 up")
        }
    }

    func ip(_ ns: Lab.Namespace, _ args: String) throws {
        let r = try Lab.run(["/usr/sbin/ip", "-n", ns.name] + args.split(separator: " ").map(String.init))
        guard r.status == 0 else { throw LabError("ip -n \(ns.name) \(args): \(r.stderr)") }
    }

    /// Starts nginx in `ns` serving `text` at / (and 500 at /status500).
    func startNginx(_ name: String, in ns: Lab.Namespace, text: String) throws {
        let root = "\(dir)/\(name)"
        try FileManager.default.createDirectory(atPath: root + "/www", withIntermediateDirectories: true)
        try text.write(toFile: root + "/www/index.html", atomically: true, encoding: .utf8)
        let conf = """
            worker_processes 1;
            daemon off;
            pid \(root)/nginx.pid;
            error_log \(root)/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(root)/tmp-body;
                proxy_temp_path \(root)/tmp-proxy;
                fastcgi_temp_path \(root)/tmp-fcgi;
                uwsgi_temp_path \(root)/tmp-uwsgi;
                scgi_temp_path \(root)/tmp-scgi;
                server {
                    listen 80;
                    location / { root \(root)/www; index index.html; }
                    location /status500 { return 500; }
                }
            }
            """
        try conf.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        nginx[name] = try Lab.spawn(
            ["/usr/sbin/ip", "netns", "exec", ns.name, Self.nginxBinary, "-c", root + "/nginx.conf"],
            stderrPath: root + "/stderr.log")
        for _ in 0..<100 {
            if let r = try? Lab.run([
                "/usr/sbin/ip", "netns", "exec", ns.name, "/usr/bin/curl", "-s", "-o", "/dev/null", "http://127.0.0.1/",
            ]),
                r.status == 0
            {
                return
            }
            usleep(50_000)
        }
        throw LabError("nginx \(name) did not start")
    }

    func stopNginx(_ name: String) {
        if let pid = nginx[name] { _ = Lab.stopChild(pid: pid) }
        nginx[name] = nil
    }

    /// aiosmtpd's debugging server on 192.168.0.230:25, printing each message.
    func startSMTP() throws -> Bool {
        guard let python = Self.smtpPython else { return false }
        smtpd = try Lab.spawn(
            [
                "/usr/sbin/ip", "netns", "exec", mail.name, python, "-m", "aiosmtpd", "-n", "-l", "192.168.0.230:25",
                "-c", "aiosmtpd.handlers.Debugging",
            ], stdoutPath: dir + "/mail.log", stderrPath: dir + "/smtpd.err",
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED": "1"])
        usleep(800_000)
        return true
    }

    var mailLog: String { (try? String(contentsOfFile: dir + "/mail.log", encoding: .utf8)) ?? "" }

    func startLVSD(config: String) throws {
        try config.write(toFile: dir + "/keepalived.conf", atomically: true, encoding: .utf8)
        lvsd = try Lab.spawn(
            [
                "/usr/sbin/ip", "netns", "exec", director.name, Lab.binary("lvsd"), "-n", "-l", "--http", "off", "-f",
                dir + "/keepalived.conf",
            ],
            stderrPath: dir + "/lvsd.log")
        try director.waitForDirector()
    }

    var lvsdLog: String { (try? String(contentsOfFile: dir + "/lvsd.log", encoding: .utf8)) ?? "" }

    func listing() throws -> String { try director.ipvsadm(["-Ln"]).stdout }

    /// Polls `condition` every 200 ms for up to `seconds`; returns the seconds it took.
    @discardableResult
    func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws -> Double {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if try condition() { return Date().timeIntervalSince(start) }
            usleep(200_000)
        }
        throw LabError(
            "timed out after \(seconds) s waiting for \(what)\nlisting:\n\(try listing())\nlvsd log:\n\(lvsdLog)")
    }

    func close() {
        if lvsd > 0 { _ = Lab.stopChild(pid: lvsd) }
        for name in Array(nginx.keys) { stopNginx(name) }
        if smtpd > 0 { _ = Lab.stopChild(pid: smtpd) }
        for ns in [director, rs1, rs2, mail] { ns.close() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Seed 000 §3 (lines 325-363, verbatim with its U+00A0 indentation), interface adapted.
let seed000Lab = ##"""
    vrrp_instance VI_1 {
       state MASTER        #如果是备用服务器,这里改为 BACKUP
       interface br0
       virtual_router_id 51
       priority 100        #如果是备用服务器,这里改为 90(少于100即可)
       advert_int 1
       authentication {
           auth_type PASS
           auth_pass 1111
       }
       virtual_ipaddress {
           192.168.0.110    #vip
       }
    }
    virtual_server 192.168.0.110 80 {
       delay_loop 6                        #(每隔 10 秒查询 realserver 状态)
       lb_algo wlc                         #(lvs 算法)
       lb_kind DR                          #(Direct Route)
       persistence_timeout 60              #(同一 IP 的连接 60 秒内被分配到同一台realserver)
       protocol TCP                        #(用 TCP 协议检查 realserver 状态)
      real_server 192.168.0.112 80 {
           weight 100          
           TCP_CHECK {
           connect_timeout 10              #(10 秒无响应超时)
           nb_get_retry 3
           delay_before_retry 3
           connect_port 80
           }
       }
      real_server 192.168.0.113 80 {
           weight 100
           TCP_CHECK {
           connect_timeout 10
           nb_get_retry 3
           delay_before_retry 3
           connect_port 80
           }
        }
    }
    """##

/// Seed 003 §3.9's master configuration, with the lab's interface and the lab's mail server.
let seed003Lab = """
    ! Configuration File for keepalived

    global_defs {
       notification_email {
        215379068@qq.com
       }
       notification_email_from yunjisuan
       smtp_server 192.168.0.230
       smtp_connect_timeout 30
       router_id LVS01
    }

    vrrp_instance VI_1 {
        state MASTER
        interface br0
        virtual_router_id 55
        priority 150
        advert_int 1
        authentication {
            auth_type PASS
            auth_pass 1111
        }
        virtual_ipaddress {
        192.168.0.240/24 dev br0 label br0:240
        }
    }

    virtual_server 192.168.0.240 80 {       #虚拟主机VIP
        delay_loop 6            #
        lb_algo rr              #算法
        lb_kind DR              #模式
        nat_mask 255.255.255.0  #掩码
    #    persistence_timeout 50 #会话保持
        protocol TCP            #协议

        real_server 192.168.0.223 80 {      #RS节点
            weight 1                #权重
            TCP_CHECK {             #节点健康检查
            connect_timeout 8       #延迟超时时间
            nb_get_retry 3          #重试次数
            delay_before_retry 3    #延迟重试次数
            connect_port 80         #利用80端口检查
        }
        }
        real_server 192.168.0.224 80 {      #RS节点
            weight 1
            TCP_CHECK {
            connect_timeout 8
            nb_get_retry 3
            delay_before_retry 3
            connect_port 80
        }
        }
    }
    """

@Suite(
    "Health-check labs: lvsd -f, nginx real servers, SMTP alerts (root)",
    .enabled(if: HealthLab.canRun, "needs root, /usr/sbin/ip, nginx (Debian nginx-light) and the built lvsd/ipvsadm"),
    .serialized)
struct HealthCheckLabTests {
    static let rs1Line = "  -> 192.168.0.223:80             Route   1      0          0         "
    static let rs2Line = "  -> 192.168.0.224:80             Route   1      0          0         "

    @Test(
        "Seed 003 §3.9 TCP_CHECK: nginx stopped on rs1 leaves ipvsadm -Ln within delay_loop + connect_timeout × (retry + 1), comes back when started; mails name LVS01 and the server"
    )
    func seed003TCPCheck() throws {
        let lab = try HealthLab("hs")
        defer { lab.close() }
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.startNginx("rs2", in: lab.rs2, text: "rs2 nginx\n")
        let smtp = try lab.startSMTP()
        try lab.startLVSD(config: seed003Lab)
        // What the configuration says, at once.
        let start = try lab.listing()
        #expect(start.contains("TCP  192.168.0.240:80 rr\n"))
        #expect(start.contains(Self.rs1Line) && start.contains(Self.rs2Line))
        // Let the first checks pass (first run within 1 s + warmup ≤ delay_loop).
        sleep(8)
        #expect(try lab.listing().contains(Self.rs1Line))
        lab.stopNginx("rs1")
        // delay_loop 6 + connect_timeout 8 × (retry 3 + 1) + 5 s slack.
        let down = try lab.waitFor("rs1 to leave", seconds: 6 + 8 * 4 + 5) {
            !(try lab.listing().contains("192.168.0.223"))
        }
        #expect(down <= 43)
        #expect(try lab.listing().contains(Self.rs2Line))
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.waitFor("rs1 to come back", seconds: 6 + 5) { try lab.listing().contains(Self.rs1Line) }
        #expect(lab.lvsdLog.contains("TCP_CHECK on service [192.168.0.223]:tcp:80 failed after 3 retries."))
        if smtp {
            try lab.waitFor("the UP alert", seconds: 10) {
                lab.mailLog.contains(
                    "Subject: [LVS01] Realserver [192.168.0.223]:tcp:80 of virtual server [192.168.0.240]:tcp:80 - UP")
            }
            let mails = lab.mailLog
            #expect(
                mails.contains(
                    "Subject: [LVS01] Realserver [192.168.0.223]:tcp:80 of virtual server [192.168.0.240]:tcp:80 - DOWN"
                ))
            #expect(mails.contains("=> TCP CHECK failed on service <="))
            #expect(mails.contains("From: yunjisuan"))
            #expect(mails.contains("215379068@qq.com"))
        } else {
            Issue.record("aiosmtpd (PyPI) is not installed: the SMTP part of this lab did not run")
        }
        // The curl-through-the-director assertions wait for the data plane (not merged yet).
    }

    @Test(
        "inhibit_on_failure keeps rs1 at weight 0; HTTP_GET wrong digest or status takes it out; misc_dynamic sets weights; sorry_server and quorum take over"
    )
    func checkerKinds() throws {
        let lab = try HealthLab("hk")
        defer { lab.close() }
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.startNginx("rs2", in: lab.rs2, text: "rs2 nginx\n")
        let md5rs2 = try Lab.run(["/bin/sh", "-c", "printf 'rs2 nginx\\n' | md5sum | cut -d' ' -f1"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let config = """
            global_defs {
                router_id LAB
            }
            virtual_server 10.10.10.1 80 {
                delay_loop 2
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 192.168.0.223 80 {
                    weight 3
                    inhibit_on_failure
                    TCP_CHECK {
                        connect_timeout 1
                        retry 0
                    }
                }
                real_server 192.168.0.224 80 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                        retry 0
                    }
                }
            }
            virtual_server 10.10.10.2 80 {
                delay_loop 2
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 192.168.0.223 80 {
                    HTTP_GET {
                        url {
                            path /
                            digest \(md5rs2)
                        }
                        connect_timeout 1
                        retry 0
                    }
                }
                real_server 192.168.0.224 80 {
                    HTTP_GET {
                        url {
                            path /
                            digest \(md5rs2)
                        }
                        connect_timeout 1
                        retry 0
                    }
                }
            }
            virtual_server 10.10.10.3 80 {
                delay_loop 2
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 192.168.0.223 80 {
                    HTTP_GET {
                        url {
                            path /status500
                            status_code 200
                        }
                        connect_timeout 1
                        retry 0
                    }
                }
                real_server 192.168.0.224 80 {
                    HTTP_GET {
                        url {
                            path /status500
                            status_code 500
                        }
                        connect_timeout 1
                        retry 0
                    }
                }
            }
            virtual_server 10.10.10.4 80 {
                delay_loop 2
                lb_algo wrr
                lb_kind DR
                protocol TCP
                real_server 192.168.0.223 80 {
                    weight 1
                    MISC_CHECK {
                        misc_path "/bin/sh -c 'exit 7'"
                        misc_dynamic
                    }
                }
                real_server 192.168.0.224 80 {
                    weight 1
                    MISC_CHECK {
                        misc_path "/bin/sh -c 'exit 12'"
                        misc_dynamic
                    }
                }
            }
            virtual_server 10.10.10.5 80 {
                delay_loop 2
                lb_algo rr
                lb_kind DR
                protocol TCP
                quorum_up "/bin/sh -c 'echo up >> \(lab.dir)/quorum'"
                quorum_down "/bin/sh -c 'echo down >> \(lab.dir)/quorum'"
                sorry_server 192.168.0.230 80
                real_server 192.168.0.223 80 {
                    TCP_CHECK {
                        connect_port 8080
                        connect_timeout 1
                        retry 0
                    }
                }
                real_server 192.168.0.224 80 {
                    TCP_CHECK {
                        connect_port 8080
                        connect_timeout 1
                        retry 0
                    }
                }
            }
            """
        try lab.startLVSD(config: config)
        func service(_ vip: String) throws -> String {
            try lab.director.ipvsadm(["-Ln", "-t", "\(vip):80"]).stdout
        }
        // HTTP_GET: rs1's page has another digest; /status500 answers 500 (expected 200 on rs1).
        try lab.waitFor("HTTP checks", seconds: 12) {
            let d = try service("10.10.10.2")
            let s = try service("10.10.10.3")
            return !d.contains("192.168.0.223") && d.contains("192.168.0.224") && !s.contains("192.168.0.223")
                && s.contains("192.168.0.224")
        }
        // misc_dynamic: exit 7 → weight 5, exit 12 → weight 10.
        try lab.waitFor("misc_dynamic weights", seconds: 12) {
            let m = try service("10.10.10.4")
            return m.contains("  -> 192.168.0.223:80             Route   5      ")
                && m.contains("  -> 192.168.0.224:80             Route   10     ")
        }
        // Both real servers fail their checks: the sorry server holds the service.
        try lab.waitFor("the sorry server", seconds: 12) {
            let s = try service("10.10.10.5")
            return s.contains("192.168.0.230:80") && !s.contains("192.168.0.223") && !s.contains("192.168.0.224")
        }
        let quorum = (try? String(contentsOfFile: lab.dir + "/quorum", encoding: .utf8)) ?? ""
        #expect(quorum == "up\ndown\n")
        // inhibit_on_failure: nginx stopped on rs1 leaves it listed at weight 0.
        lab.stopNginx("rs1")
        try lab.waitFor("rs1 inhibited", seconds: 10) {
            try service("10.10.10.1").contains("  -> 192.168.0.223:80             Route   0      ")
        }
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.waitFor("rs1 back at weight 3", seconds: 10) {
            try service("10.10.10.1").contains("  -> 192.168.0.223:80             Route   3      ")
        }
    }

    @Test(
        "Seed 000 §3 pasted as is (U+00A0 indentation, nb_get_retry): nginx stopped on rs1 (192.168.0.112) leaves ipvsadm -Ln within delay_loop + connect_timeout × (retry + 1) and comes back"
    )
    func seed000TCPCheck() throws {
        let lab = try HealthLab("h0", rs1Address: "192.168.0.112", rs2Address: "192.168.0.113")
        defer { lab.close() }
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.startNginx("rs2", in: lab.rs2, text: "rs2 nginx\n")
        try lab.startLVSD(config: seed000Lab)
        let rs1 = "  -> 192.168.0.112:80             Route   100    0          0         "
        let rs2 = "  -> 192.168.0.113:80             Route   100    0          0         "
        let start = try lab.listing()
        #expect(start.contains("TCP  192.168.0.110:80 wlc persistent 60\n"))
        #expect(start.contains(rs1) && start.contains(rs2))
        sleep(8)
        lab.stopNginx("rs1")
        // delay_loop 6 + connect_timeout 10 × (nb_get_retry 3 + 1) + 5 s slack.
        let down = try lab.waitFor("rs1 to leave", seconds: 6 + 10 * 4 + 5) {
            !(try lab.listing().contains("192.168.0.112"))
        }
        #expect(down <= 51)
        #expect(try lab.listing().contains(rs2))
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.waitFor("rs1 to come back", seconds: 6 + 5) { try lab.listing().contains(rs1) }
    }

    @Test(
        "SIGHUP: a bad configuration is refused with file:line and the table stays; a good one applies only the difference"
    )
    func reload() throws {
        let lab = try HealthLab("hr")
        defer { lab.close() }
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.startNginx("rs2", in: lab.rs2, text: "rs2 nginx\n")
        let fast = seed003Lab.replacingOccurrences(of: "delay_loop 6", with: "delay_loop 2")
            .replacingOccurrences(of: "connect_timeout 8", with: "connect_timeout 1")
            .replacingOccurrences(of: "nb_get_retry 3", with: "nb_get_retry 0")
        try lab.startLVSD(config: fast)
        let before = try lab.listing()
        #expect(before.contains(Self.rs1Line) && before.contains(Self.rs2Line))
        // A half-written file: the running configuration stays, the log says where.
        try (fast + "\nvirtual_server 192.168.0.241 80 {\n    delay_loop\n").write(
            toFile: lab.dir + "/keepalived.conf", atomically: true, encoding: .utf8)
        kill(lab.lvsd, SIGHUP)
        try lab.waitFor("the refusal", seconds: 5) { lab.lvsdLog.contains("refused, the running configuration stays") }
        #expect(lab.lvsdLog.contains("\(lab.dir)/keepalived.conf:"))
        #expect(try lab.listing() == before)
        // rs1 down, then a reload that changes rs2's weight: rs1 is not re-added by the reload.
        lab.stopNginx("rs1")
        try lab.waitFor("rs1 to leave", seconds: 10) { !(try lab.listing().contains("192.168.0.223")) }
        let heavier = fast.replacingOccurrences(
            of: "192.168.0.224 80 {      #RS节点\n        weight 1",
            with: "192.168.0.224 80 {      #RS节点\n        weight 4")
        #expect(heavier != fast)
        try heavier.write(toFile: lab.dir + "/keepalived.conf", atomically: true, encoding: .utf8)
        kill(lab.lvsd, SIGHUP)
        try lab.waitFor("the reload", seconds: 5) { lab.lvsdLog.contains("reloaded") }
        let after = try lab.listing()
        #expect(!after.contains("192.168.0.223"))
        #expect(after.contains("  -> 192.168.0.224:80             Route   4      0          0         "))
        try lab.startNginx("rs1", in: lab.rs1, text: "rs1 nginx\n")
        try lab.waitFor("rs1 back after the reload", seconds: 8) { try lab.listing().contains(Self.rs1Line) }
    }
}
