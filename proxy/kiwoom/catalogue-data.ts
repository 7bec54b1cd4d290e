// GENERATED DATA — do not edit by hand.
// Source: Kiwoom-Securities/Kiwoom-REST-API, kiwoom_cli/maps/api_commands.csv
// (commit 372a17f5726a8b2b5e58c210d7928fd3fac17456). Every row of the CSV is
// here, in CSV order, reduced to the columns the sidecar uses:
//   api_id | api_name | major_category | subcategory | safety_policy | method | path | required_body_fields
// required_body_fields stays `;`-separated as in the CSV. Api-ids are
// case-sensitive: the realtime types `0G` (ETF NAV) and `0g` (주식종목정보)
// are different rows.

export const CATALOGUE_SOURCE = 'Kiwoom-Securities/Kiwoom-REST-API kiwoom_cli/maps/api_commands.csv@372a17f5726a8b2b5e58c210d7928fd3fac17456';

export const CATALOGUE_ROW_COUNT = 207;

export const CATALOGUE_ROWS = `
au10001|접근토큰 발급|OAuth 인증|접근토큰발급|auth_write|POST|/oauth2/token|grant_type;appkey;secretkey
au10002|접근토큰폐기|OAuth 인증|접근토큰폐기|auth_write|POST|/oauth2/revoke|appkey;secretkey;token
ka00001|계좌번호조회|국내주식|계좌|account_read|POST|/api/dostk/acnt|
ka00198|실시간종목조회순위|국내주식|종목정보|read|POST|/api/dostk/stkinfo|qry_tp
ka01690|일별잔고수익률|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_dt
ka10001|주식기본정보요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
ka10002|주식거래원요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
ka10003|체결정보요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
ka10004|주식호가요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10005|주식일주월시분요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10006|주식시분요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10007|시세표성정보요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10008|주식외국인종목별매매동향|국내주식|기관/외국인|read|POST|/api/dostk/frgnistt|stk_cd
ka10009|주식기관요청|국내주식|기관/외국인|read|POST|/api/dostk/frgnistt|stk_cd
ka10010|업종프로그램요청|국내주식|업종|read|POST|/api/dostk/sect|stk_cd
ka10011|신주인수권전체시세요청|국내주식|시세|read|POST|/api/dostk/mrkcond|newstk_recvrht_tp
ka10013|신용매매동향요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;dt;qry_tp
ka10014|공매도추이요청|국내주식|공매도|read|POST|/api/dostk/shsa|stk_cd;strt_dt;end_dt
ka10015|일별거래상세요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;strt_dt
ka10016|신고저가요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;ntl_tp;high_low_close_tp;stk_cnd;trde_qty_tp;crd_cnd;updown_incls;dt;stex_tp
ka10017|상하한가요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;updown_tp;sort_tp;stk_cnd;trde_qty_tp;crd_cnd;trde_gold_tp;stex_tp
ka10018|고저가근접요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|high_low_tp;alacc_rt;mrkt_tp;trde_qty_tp;stk_cnd;crd_cnd;stex_tp
ka10019|가격급등락요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;flu_tp;tm_tp;tm;trde_qty_tp;stk_cnd;crd_cnd;pric_cnd;updown_incls;stex_tp
ka10020|호가잔량상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_tp;trde_qty_tp;stk_cnd;crd_cnd;stex_tp
ka10021|호가잔량급증요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;trde_tp;sort_tp;tm_tp;trde_qty_tp;stk_cnd;stex_tp
ka10022|잔량율급증요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;rt_tp;tm_tp;trde_qty_tp;stk_cnd;stex_tp
ka10023|거래량급증요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_tp;tm_tp;trde_qty_tp;stk_cnd;pric_tp;stex_tp
ka10024|거래량갱신요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;cycle_tp;trde_qty_tp;stex_tp
ka10025|매물대집중요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;prps_cnctr_rt;cur_prc_entry;prpscnt;cycle_tp;stex_tp
ka10026|고저PER요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|pertp;stex_tp
ka10027|전일대비등락률상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_tp;trde_qty_cnd;stk_cnd;crd_cnd;updown_incls;pric_cnd;trde_prica_cnd;stex_tp
ka10028|시가대비등락률요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|sort_tp;trde_qty_cnd;mrkt_tp;updown_incls;stk_cnd;crd_cnd;trde_prica_cnd;flu_cnd;stex_tp
ka10029|예상체결등락률상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_tp;trde_qty_cnd;stk_cnd;crd_cnd;pric_cnd;stex_tp
ka10030|당일거래량상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_tp;mang_stk_incls;crd_tp;trde_qty_tp;pric_tp;trde_prica_tp;mrkt_open_tp;stex_tp
ka10031|전일거래량상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;qry_tp;rank_strt;rank_end;stex_tp
ka10032|거래대금상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;mang_stk_incls;stex_tp
ka10033|신용비율상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;trde_qty_tp;stk_cnd;updown_incls;crd_cnd;stex_tp
ka10034|외인기간별매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;trde_tp;dt;stex_tp
ka10035|외인연속순매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;trde_tp;base_dt_tp;stex_tp
ka10036|외인한도소진율증가상위|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;dt;stex_tp
ka10037|외국계창구매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;dt;trde_tp;sort_tp;stex_tp
ka10038|종목별증권사순위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|stk_cd;strt_dt;end_dt;qry_tp
ka10039|증권사별매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mmcm_cd;trde_qty_tp;trde_tp;dt;stex_tp
ka10040|당일주요거래원요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|stk_cd
ka10042|순매수거래원순위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|stk_cd;qry_dt_tp;pot_tp;sort_base
ka10043|거래원매물대분석요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;strt_dt;end_dt;qry_dt_tp;pot_tp;dt;sort_base;mmcm_cd;stex_tp
ka10044|일별기관매매종목요청|국내주식|시세|read|POST|/api/dostk/mrkcond|strt_dt;end_dt;trde_tp;mrkt_tp;stex_tp
ka10045|종목별기관매매추이요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd;strt_dt;end_dt;orgn_prsm_unp_tp;for_prsm_unp_tp
ka10046|체결강도추이시간별요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10047|체결강도추이일별요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10048|ELW일별민감도지표요청|국내주식|ELW|read|POST|/api/dostk/elw|stk_cd
ka10050|ELW민감도지표요청|국내주식|ELW|read|POST|/api/dostk/elw|stk_cd
ka10051|업종별투자자순매수요청|국내주식|업종|read|POST|/api/dostk/sect|mrkt_tp;amt_qty_tp;stex_tp
ka10052|거래원순간거래량요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mmcm_cd;mrkt_tp;qty_tp;pric_tp;stex_tp
ka10053|당일상위이탈원요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|stk_cd
ka10054|변동성완화장치발동종목요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp;bf_mkrt_tp;motn_tp;skip_stk;trde_qty_tp;min_trde_qty;max_trde_qty;trde_prica_tp;min_trde_prica;max_trde_prica;motn_drc;stex_tp
ka10055|당일전일체결량요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;tdy_pred
ka10058|투자자별일별매매종목요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|strt_dt;end_dt;trde_tp;mrkt_tp;invsr_tp;stex_tp
ka10059|종목별투자자기관별요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|dt;stk_cd;amt_qty_tp;trde_tp;unit_tp
ka10060|종목별투자자기관별차트요청|국내주식|차트|read|POST|/api/dostk/chart|dt;stk_cd;amt_qty_tp;trde_tp;unit_tp
ka10061|종목별투자자기관별합계요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;strt_dt;end_dt;amt_qty_tp;trde_tp;unit_tp
ka10062|동일순매매순위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|strt_dt;mrkt_tp;trde_tp;sort_cnd;unit_tp;stex_tp
ka10063|장중투자자별매매요청|국내주식|시세|read|POST|/api/dostk/mrkcond|mrkt_tp;amt_qty_tp;invsr;frgn_all;smtm_netprps_tp;stex_tp
ka10064|장중투자자별매매차트요청|국내주식|차트|read|POST|/api/dostk/chart|mrkt_tp;amt_qty_tp;trde_tp;stk_cd
ka10065|장중투자자별매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|trde_tp;mrkt_tp;orgn_tp
ka10066|장마감후투자자별매매요청|국내주식|시세|read|POST|/api/dostk/mrkcond|mrkt_tp;amt_qty_tp;trde_tp;stex_tp
ka10068|대차거래추이요청|국내주식|대차거래|read|POST|/api/dostk/slb|all_tp
ka10069|대차거래상위10종목요청|국내주식|대차거래|read|POST|/api/dostk/slb|strt_dt;mrkt_tp
ka10072|일자별종목별실현손익요청_일자|국내주식|계좌|account_read|POST|/api/dostk/acnt|strt_dt
ka10073|일자별종목별실현손익요청_기간|국내주식|계좌|account_read|POST|/api/dostk/acnt|strt_dt;end_dt
ka10074|일자별실현손익요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|strt_dt;end_dt
ka10075|미체결요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|all_stk_tp;trde_tp;stex_tp
ka10076|체결요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp;sell_tp;stex_tp
ka10077|당일실현손익상세요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stk_cd
ka10078|증권사별종목매매동향요청|국내주식|시세|read|POST|/api/dostk/mrkcond|mmcm_cd;stk_cd;strt_dt;end_dt
ka10079|주식틱차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope;upd_stkpc_tp
ka10080|주식분봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope;upd_stkpc_tp
ka10081|주식일봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka10082|주식주봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka10083|주식월봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka10084|당일전일체결요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd;tdy_pred;tic_min
ka10085|계좌수익률요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stex_tp
ka10086|일별주가요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd;qry_dt;indc_tp
ka10087|시간외단일가요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka10088|미체결 분할주문 상세|국내주식|계좌|account_read|POST|/api/dostk/acnt|ord_no
ka10094|주식년봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka10095|관심종목정보요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
ka10098|시간외단일가등락율순위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;sort_base;stk_cnd;trde_qty_cnd;crd_cnd;trde_prica
ka10099|종목정보 리스트|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp
ka10100|종목정보 조회|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
ka10101|업종코드 리스트|국내주식|종목정보|read|POST|/api/dostk/stkinfo|mrkt_tp
ka10102|회원사 리스트|국내주식|종목정보|read|POST|/api/dostk/stkinfo|
ka10131|기관외국인연속매매현황요청|국내주식|기관/외국인|read|POST|/api/dostk/frgnistt|dt;mrkt_tp;netslmt_tp;stk_inds_tp;amt_qty_tp;stex_tp
ka10170|당일매매일지요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|ottks_tp;ch_crd_tp
ka10171|조건검색 목록조회|국내주식|조건검색|read|POST|/api/dostk/websocket|trnm
ka10172|조건검색 요청 일반|국내주식|조건검색|read|POST|/api/dostk/websocket|trnm;seq;search_type;stex_tp
ka10173|조건검색 요청 실시간|국내주식|조건검색|read|POST|/api/dostk/websocket|trnm;seq;search_type;stex_tp
ka10174|조건검색 실시간 해제|국내주식|조건검색|read|POST|/api/dostk/websocket|trnm;seq
ka20001|업종현재가요청|국내주식|업종|read|POST|/api/dostk/sect|mrkt_tp;inds_cd
ka20002|업종별주가요청|국내주식|업종|read|POST|/api/dostk/sect|mrkt_tp;inds_cd;stex_tp
ka20003|전업종지수요청|국내주식|업종|read|POST|/api/dostk/sect|inds_cd
ka20004|업종틱차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;tic_scope
ka20005|업종분봉조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;tic_scope
ka20006|업종일봉조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;base_dt
ka20007|업종주봉조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;base_dt
ka20008|업종월봉조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;base_dt
ka20009|업종현재가일별요청|국내주식|업종|read|POST|/api/dostk/sect|mrkt_tp;inds_cd
ka20019|업종년봉조회요청|국내주식|차트|read|POST|/api/dostk/chart|inds_cd;base_dt
ka20068|대차거래추이요청(종목별)|국내주식|대차거래|read|POST|/api/dostk/slb|stk_cd
ka30001|ELW가격급등락요청|국내주식|ELW|read|POST|/api/dostk/elw|flu_tp;tm_tp;tm;trde_qty_tp;isscomp_cd;bsis_aset_cd;rght_tp;lpcd;trde_end_elwskip
ka30002|거래원별ELW순매매상위요청|국내주식|ELW|read|POST|/api/dostk/elw|isscomp_cd;trde_qty_tp;trde_tp;dt;trde_end_elwskip
ka30003|ELWLP보유일별추이요청|국내주식|ELW|read|POST|/api/dostk/elw|bsis_aset_cd;base_dt
ka30004|ELW괴리율요청|국내주식|ELW|read|POST|/api/dostk/elw|isscomp_cd;bsis_aset_cd;rght_tp;lpcd;trde_end_elwskip
ka30005|ELW조건검색요청|국내주식|ELW|read|POST|/api/dostk/elw|isscomp_cd;bsis_aset_cd;rght_tp;lpcd;sort_tp
ka30009|ELW등락율순위요청|국내주식|ELW|read|POST|/api/dostk/elw|sort_tp;rght_tp;trde_end_skip
ka30010|ELW잔량순위요청|국내주식|ELW|read|POST|/api/dostk/elw|sort_tp;rght_tp;trde_end_skip
ka30011|ELW근접율요청|국내주식|ELW|read|POST|/api/dostk/elw|stk_cd
ka30012|ELW종목상세정보요청|국내주식|ELW|read|POST|/api/dostk/elw|stk_cd
ka40001|ETF수익율요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd;etfobjt_idex_cd;dt
ka40002|ETF종목정보요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40003|ETF일별추이요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40004|ETF전체시세요청|국내주식|ETF|read|POST|/api/dostk/etf|txon_type;navpre;mngmcomp;txon_yn;trace_idex;stex_tp
ka40006|ETF시간대별추이요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40007|ETF시간대별체결요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40008|ETF일자별체결요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40009|ETF시간대별체결요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka40010|ETF시간대별추이요청|국내주식|ETF|read|POST|/api/dostk/etf|stk_cd
ka50010|금현물체결추이|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka50012|금현물일별추이|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd;base_dt
ka50079|금현물틱차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope;upd_stkpc_tp
ka50080|금현물분봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope
ka50081|금현물일봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka50082|금현물주봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka50083|금현물월봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;base_dt;upd_stkpc_tp
ka50087|금현물예상체결|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka50091|금현물당일틱차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope
ka50092|금현물당일분봉차트조회요청|국내주식|차트|read|POST|/api/dostk/chart|stk_cd;tic_scope
ka50100|금현물 시세정보|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
ka50101|금현물 호가|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd;tic_scope
ka52301|금현물투자자현황|국내주식|기관/외국인|read|POST|/api/dostk/frgnistt|
ka90001|테마그룹별요청|국내주식|테마|read|POST|/api/dostk/thme|qry_tp;date_tp;flu_pl_amt_tp;stex_tp
ka90002|테마구성종목요청|국내주식|테마|read|POST|/api/dostk/thme|thema_grp_cd;stex_tp
ka90003|프로그램순매수상위50요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|trde_upper_tp;amt_qty_tp;mrkt_tp;stex_tp
ka90004|종목별프로그램매매현황요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|dt;mrkt_tp;stex_tp
ka90005|프로그램매매추이요청 시간대별|국내주식|시세|read|POST|/api/dostk/mrkcond|date;amt_qty_tp;mrkt_tp;min_tic_tp;stex_tp
ka90006|프로그램매매차익잔고추이요청|국내주식|시세|read|POST|/api/dostk/mrkcond|date;stex_tp
ka90007|프로그램매매누적추이요청|국내주식|시세|read|POST|/api/dostk/mrkcond|date;amt_qty_tp;mrkt_tp;stex_tp
ka90008|종목시간별프로그램매매추이요청|국내주식|시세|read|POST|/api/dostk/mrkcond|amt_qty_tp;stk_cd;date
ka90009|외국인기관매매상위요청|국내주식|순위정보|read|POST|/api/dostk/rkinfo|mrkt_tp;amt_qty_tp;qry_dt_tp;stex_tp
ka90010|프로그램매매추이요청 일자별|국내주식|시세|read|POST|/api/dostk/mrkcond|date;amt_qty_tp;mrkt_tp;min_tic_tp;stex_tp
ka90012|대차거래내역요청|국내주식|대차거래|read|POST|/api/dostk/slb|dt;mrkt_tp
ka90013|종목일별프로그램매매추이요청|국내주식|시세|read|POST|/api/dostk/mrkcond|stk_cd
kt00001|예수금상세현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp
kt00002|일별추정예탁자산현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|start_dt;end_dt
kt00003|추정자산조회요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp
kt00004|계좌평가현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp;dmst_stex_tp
kt00005|체결잔고요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|dmst_stex_tp
kt00007|계좌별주문체결내역상세요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp;stk_bond_tp;sell_tp;dmst_stex_tp
kt00008|계좌별익일결제예정내역요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt00009|계좌별주문체결현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stk_bond_tp;mrkt_tp;sell_tp;qry_tp;dmst_stex_tp
kt00010|주문인출가능금액요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stk_cd;trde_tp;uv
kt00011|증거금율별주문가능수량조회요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stk_cd
kt00012|신용보증금율별주문가능수량조회요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|stk_cd
kt00013|증거금세부내역조회요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt00015|위탁종합거래내역요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|strt_dt;end_dt;tp;gds_tp;dmst_stex_tp
kt00016|일별계좌수익률상세현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|fr_dt;to_dt
kt00017|계좌별당일현황요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt00018|계좌평가잔고내역요청|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp;dmst_stex_tp
kt10000|주식 매수주문|국내주식|주문|order_write|POST|/api/dostk/ordr|dmst_stex_tp;stk_cd;ord_qty;trde_tp
kt10001|주식 매도주문|국내주식|주문|order_write|POST|/api/dostk/ordr|dmst_stex_tp;stk_cd;ord_qty;trde_tp
kt10002|주식 정정주문|국내주식|주문|order_write|POST|/api/dostk/ordr|dmst_stex_tp;orig_ord_no;stk_cd;mdfy_qty;mdfy_uv
kt10003|주식 취소주문|국내주식|주문|order_write|POST|/api/dostk/ordr|dmst_stex_tp;orig_ord_no;stk_cd;cncl_qty
kt10006|신용 매수주문|국내주식|신용주문|order_write|POST|/api/dostk/crdordr|dmst_stex_tp;stk_cd;ord_qty;trde_tp
kt10007|신용 매도주문|국내주식|신용주문|order_write|POST|/api/dostk/crdordr|dmst_stex_tp;stk_cd;ord_qty;trde_tp;crd_deal_tp
kt10008|신용 정정주문|국내주식|신용주문|order_write|POST|/api/dostk/crdordr|dmst_stex_tp;orig_ord_no;stk_cd;mdfy_qty;mdfy_uv
kt10009|신용 취소주문|국내주식|신용주문|order_write|POST|/api/dostk/crdordr|dmst_stex_tp;orig_ord_no;stk_cd;cncl_qty
kt20016|신용융자 가능종목요청|국내주식|종목정보|read|POST|/api/dostk/stkinfo|
kt20017|신용융자 가능문의|국내주식|종목정보|read|POST|/api/dostk/stkinfo|stk_cd
kt50000|금현물 매수주문|국내주식|주문|order_write|POST|/api/dostk/ordr|stk_cd;ord_qty;trde_tp
kt50001|금현물 매도주문|국내주식|주문|order_write|POST|/api/dostk/ordr|stk_cd;ord_qty;trde_tp
kt50002|금현물 정정주문|국내주식|주문|order_write|POST|/api/dostk/ordr|stk_cd;orig_ord_no;mdfy_qty;mdfy_uv
kt50003|금현물 취소주문|국내주식|주문|order_write|POST|/api/dostk/ordr|orig_ord_no;stk_cd;cncl_qty
kt50020|금현물 잔고확인|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt50021|금현물 예수금|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt50030|금현물 주문체결전체조회|국내주식|계좌|account_read|POST|/api/dostk/acnt|ord_dt;mrkt_deal_tp;stk_bond_tp;slby_tp
kt50031|금현물 주문체결조회|국내주식|계좌|account_read|POST|/api/dostk/acnt|qry_tp;stk_bond_tp;sell_tp;dmst_stex_tp
kt50032|금현물 거래내역조회|국내주식|계좌|account_read|POST|/api/dostk/acnt|
kt50075|금현물 미체결조회|국내주식|계좌|account_read|POST|/api/dostk/acnt|ord_dt;mrkt_deal_tp;stk_bond_tp;sell_tp
00|주문체결|국내주식|실시간시세|account_read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
04|잔고|국내주식|실시간시세|account_read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0A|주식기세|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0B|주식체결|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0C|주식우선호가|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0D|주식호가잔량|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0E|주식시간외호가|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0F|주식당일거래원|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0G|ETF NAV|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0H|주식예상체결|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0I|국제금환산가격|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0J|업종지수|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0U|업종등락|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0g|주식종목정보|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0m|ELW 이론가|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0s|장시작시간|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0u|ELW 지표|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
0w|종목프로그램매매|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
1h|VI발동/해제|국내주식|실시간시세|read|POST|/api/dostk/websocket|trnm;grp_no;refresh;type
`;
