// The seeds' keepalived.conf files, extracted verbatim (generated from /work/shared/seeds).

enum SeedConfigs {
    /// Seed 000 (Chinese DR tutorial), the master director's keepalived.conf, lines 325-363. Its indentation is U+00A0 no-break spaces, as copied from the web page.
    static let seed000Master = ##"""
        vrrp_instance VI_1 {
           state MASTER        #如果是备用服务器,这里改为 BACKUP
           interface eth0
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

    /// Seed 001 (supermarket case study), lines 225-287 without the ``` fence lines the blog split the config with. The virtual_server block is never closed: the blog dropped its final '}'.
    static let seed001 = ##"""
        ! Configuration File for keepalived

        global_defs {
            notification_email {
                acassen@firewall.loc
                failover@firewall.loc
                sysadmin@firewall.loc
            }
            notification_email_from Alexandre.Cassen@firewall.loc
            smtp_server 172.0.0.1
            smtp_connect_timeout 30
            router_id LVS_SUNINGPOSINF_PRD
        }

        vrrp_instance VI_1 {
            state MASTER ---A机器为MASTER,B机器为BACKUP,请注意机器上修改
            interface eth0
            virtual_router_id 51
            priority 100 ---主机A 100, 备机B 99, 请主机机器上修改
            advert_int 1
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            virtual_ipaddress {
                192.168.0.239
            }
        }

        virtual_server 192.168.0.239 8898 {
            delay_loop 6
            lb_algo rr
            lb_kind DR
            persistence_timeout 50
            protocol TCP

        real_server 192.168.0.236 8898 {
            weight 1
            TCP_CHECK {
                connect_timeout 10
                nb_get_retry 3
                delay_before_retry 3
                connect_port 8898
            }
        }

        real_server 192.168.0.238 8898 {
            weight 1
            TCP_CHECK {
                connect_timeout 10
                nb_get_retry 3
                delay_before_retry 3
                connect_port 8898
            }
        }
        """##

    /// Seed 002 (nginx + keepalived), the master's keepalived.conf, lines 96-123: comments glued to values ('121# ...').
    static let seed002Master = ##"""
        vrrp_script chk_nginx {
            script "/etc/keepalived/nginx_check.sh" #运行脚本,脚本内容下面有,就是起到一个nginx宕机以后,自动开启服务
            interval 2 #检测时间间隔
            weight -20 #如果条件成立的话,则权重 -20
        }
        # 定义虚拟路由,VI_1 为虚拟路由的标示符,自己定义名称
        vrrp_instance VI_1 {
            state MASTER #来决定主从 BACKUP表示从
            interface ens33 # 绑定虚拟 IP 的网络接口,根据自己的机器填写
            virtual_router_id 121# 虚拟路由的 ID 号, 两个节点设置必须一样 将keepalived.conf文件中的virtual_router_id参数设置成其它即可,如:79、89、101。只要取值范围在取值0-255就行。
            mcast_src_ip 192.168.159.129 #填写本机ip
            priority 100 # 节点优先级,主要比从节点优先级高
            nopreempt # 优先级高的设置 nopreempt 解决异常恢复后再次抢占的问题
            advert_int 1 # 组播信息发送间隔,两个节点设置必须一样,默认 1s
            # 生产的时候会使用,账号密码
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            # 将 track_script 块加入 instance 配置块
            track_script {
                chk_nginx #执行 Nginx 监控的服务
            }
           # 虚拟的ip地址,前三个必须和当前服务器的前三个一致,要在同一个网段中
            virtual_ipaddress {
                192.168.159.110 # 虚拟ip,也就是解决写死程序的ip怎么能切换的ip,也可扩展,用途广泛。可配置多个。我们访问该ip会跳转到真实的Nginx中去
            }
        }
        """##

    /// Seed 002, the backup's keepalived.conf, lines 143-170 ('state BACKUP#...').
    static let seed002Backup = ##"""
        vrrp_script chk_nginx {
            script "/etc/keepalived/nginx_check.sh" #运行脚本,脚本内容下面有,就是起到一个nginx宕机以后,自动开启服务
            interval 2 #检测时间间隔
            weight -20 #如果条件成立的话,则权重 -20
        }
        # 定义虚拟路由,VI_1 为虚拟路由的标示符,自己定义名称
        vrrp_instance VI_1 {
            state BACKUP#来决定主从 BACKUP表示从
            interface ens33 # 绑定虚拟 IP 的网络接口,根据自己的机器填写
            virtual_router_id 121# 虚拟路由的 ID 号, 两个节点设置必须一样 将keepalived.conf文件中的virtual_router_id参数设置成其它即可,如:79、89、101。只要取值范围在取值0-255就行。
            mcast_src_ip 192.168.159.130 #填写本机ip
            priority 100 # 节点优先级,主要比从节点优先级高
            nopreempt # 优先级高的设置 nopreempt 解决异常恢复后再次抢占的问题
            advert_int 1 # 组播信息发送间隔,两个节点设置必须一样,默认 1s
            # 生产的时候会使用,账号密码
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            # 将 track_script 块加入 instance 配置块
            track_script {
                chk_nginx #执行 Nginx 监控的服务
            }
           # 虚拟的ip地址,前三个必须和当前服务器的前三个一致,要在同一个网段中
            virtual_ipaddress {
                192.168.159.110 # 虚拟ip,也就是解决写死程序的ip怎么能切换的ip,也可扩展,用途广泛。可配置多个。我们访问该ip会跳转到真实的Nginx中去
            }
        }
        """##

    /// Seed 003 (LVS + keepalived, yunjisuan), section 3.5 master, lines 728-753 (VRRP only).
    static let seed003MasterVRRP = ##"""
        ! Configuration File for keepalived

        global_defs {
           notification_email {
            215379068@qq.com
           }
           notification_email_from yunjisuan
           smtp_server 127.0.0.1
           smtp_connect_timeout 30
           router_id LVS01
        }

        vrrp_instance VI_1 {
            state MASTER
            interface eth0
            virtual_router_id 55
            priority 150
            advert_int 1
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            virtual_ipaddress {
            192.168.0.240/24 dev eth0 label eth0:240
            }
        }
        """##

    /// Seed 003, section 3.5 backup, lines 760-785 (VRRP only).
    static let seed003BackupVRRP = ##"""
        ! Configuration File for keepalived

        global_defs {
           notification_email {
            215379068@qq.com
           }
           notification_email_from yunjisuan
           smtp_server 127.0.0.1
           smtp_connect_timeout 30
           router_id LVS02
        }

        vrrp_instance VI_1 {
            state BACKUP
            interface eth0
            virtual_router_id 55
            priority 100
            advert_int 1
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            virtual_ipaddress {
            192.168.0.240/24 dev eth0 label eth0:240
            }
        }
        """##

    /// Seed 003, section 3.9, the full master config with virtual_server, lines 935-988 (uses the obsolete nat_mask).
    static let seed003Full = ##"""
        ! Configuration File for keepalived

        global_defs {
           notification_email {
            215379068@qq.com
           }
           notification_email_from yunjisuan
           smtp_server 127.0.0.1
           smtp_connect_timeout 30
           router_id LVS01
        }

        vrrp_instance VI_1 {
            state MASTER
            interface eth0
            virtual_router_id 55
            priority 150
            advert_int 1
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            virtual_ipaddress {
            192.168.0.240/24 dev eth0 label eth0:240
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
        """##
}
