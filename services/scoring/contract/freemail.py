"""Common free-mail domains, so `free_mail: true` can tell a consumer inbox from a company one.

Lower-case domains, matched exactly against the part after the `@`. Extend by listing more
domains with `email_domain_in` in the contract rather than editing this list per customer.
"""

from __future__ import annotations

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.co.in yahoo.co.jp yahoo.fr yahoo.de
    yahoo.es yahoo.it yahoo.ca yahoo.com.au yahoo.com.br yahoo.com.mx yahoo.com.ar ymail.com
    rocketmail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it hotmail.es
    hotmail.nl hotmail.ca hotmail.com.au hotmail.com.br outlook.com outlook.co.uk outlook.fr
    outlook.de outlook.es outlook.it outlook.jp outlook.com.au outlook.com.br live.com
    live.co.uk live.fr live.de live.it live.nl live.ca live.com.au live.com.mx msn.com
    passport.com windowslive.com aol.com aol.co.uk aol.fr aol.de aim.com icloud.com me.com
    mac.com protonmail.com protonmail.ch proton.me pm.me tutanota.com tutanota.de tuta.io
    tutamail.com zoho.com zohomail.com gmx.com gmx.net gmx.de gmx.at gmx.ch gmx.fr gmx.co.uk
    gmx.us mail.com email.com usa.com myself.com consultant.com post.com europe.com
    yandex.com yandex.ru ya.ru mail.ru inbox.ru list.ru bk.ru rambler.ru web.de t-online.de
    freenet.de arcor.de orange.fr wanadoo.fr free.fr laposte.net sfr.fr neuf.fr libero.it
    virgilio.it alice.it tiscali.it tin.it btinternet.com sky.com virginmedia.com ntlworld.com
    talktalk.net blueyonder.co.uk qq.com 163.com 126.com yeah.net sina.com sina.cn sohu.com
    aliyun.com foxmail.com 139.com naver.com hanmail.net daum.net nate.com rediffmail.com
    seznam.cz wp.pl o2.pl onet.pl interia.pl op.pl bol.com.br uol.com.br terra.com.br ig.com.br
    comcast.net verizon.net att.net sbcglobal.net bellsouth.net charter.net cox.net
    earthlink.net optonline.net frontier.com juno.com netzero.net rogers.com shaw.ca
    sympatico.ca telus.net bigpond.com bigpond.net.au optusnet.com.au xtra.co.nz
    fastmail.com fastmail.fm hushmail.com hey.com duck.com mailfence.com posteo.de posteo.net
    runbox.com inbox.com lycos.com excite.com rediff.com zoznam.sk centrum.cz abv.bg
    """.split()  # noqa: SIM905 -- a word list reads better than 170 quoted strings
)
