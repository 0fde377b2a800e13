{
  A practice-software integration in Pascal (bindings/pascal/DspConnect.pas):
  connect to dspconnectd, unlock the card, push a report in mode Restreint,
  wait until the DSP registered it, list the patient's documents, open the
  report to the patient's other professionals (mode Normal), and get the
  one-time URL of the patient's DSP.

    ./push SOCKET PIN PATIENT FILE      (SOCKET '' for the default endpoint)

  Build: see examples/pascal/README.md.
}
program push;

{$IFDEF FPC}{$MODE DELPHI}{$ENDIF}
{$IFDEF MSWINDOWS}{$APPTYPE CONSOLE}{$ENDIF}

uses
  SysUtils, DspConnect;

function Run(const Socket, Pin, Patient, FileName: UTF8String): Integer;
var
  Dsp: TDspClient;
  St: TDspStatus;
  Metadata, Bad: TDspPushMetadata;
  Pushed: TDspPushed;
  State: dsp_job_state;
  Docs: TDspDocuments;
  I: Integer;
  Found: Boolean;
  Mode: dsp_mode;
  Url: UTF8String;
  Step: string;
  Info: TDspJobInfo;
  Back: TBytes;
  MimeType: UTF8String;
  Professionals: TDspProfessionals;
begin
  Result := 1;
  WriteLn('libdspconnect ', DspVersion);
  Step := 'connect';
  Dsp := nil;
  try
    try
      Dsp := TDspClient.Create(Socket, 30000);

      Step := 'status';
      St := Dsp.Status;
      WriteLn('sandbox=', Ord(St.Sandbox), ' card_present=', Ord(St.CardPresent),
        ' session=', DspSessionStateName(St.Session));

      Step := 'unlock';
      Dsp.Unlock(Pin);

      Step := 'push';
      Metadata := TDspPushMetadata.Make(Patient, 'Lettre de sortie (Pascal)',
        DSP_MODE_RESTREINT, True);
      Pushed := Dsp.PushFile(FileName, Metadata);
      WriteLn('queued job ', Pushed.JobId, ', document ', Pushed.UniqueId);

      Step := 'job wait';
      State := Dsp.JobWait(Pushed.JobId, 60000);
      WriteLn('job state ', DspJobStateName(State));
      if State <> DSP_JOB_DONE then
      begin
        WriteLn(ErrOutput, 'the job did not end Done');
        Exit;
      end;

      Step := 'job status';
      Info := Dsp.JobStatus(Pushed.JobId);
      WriteLn('job status ', DspJobStateName(Info.State), ', ', Info.Sent, ' of ',
        Info.DocumentSize, ' bytes');

      Step := 'get to buffer';
      Back := Dsp.GetToBuffer(Patient, Pushed.UniqueId, 16 * 1024 * 1024, MimeType);
      WriteLn('read back ', Length(Back), ' bytes, ', MimeType);

      Step := 'hpd';
      Professionals := Dsp.HpdLookup('SBX1002', '');
      for I := 0 to High(Professionals) do
        WriteLn('hpd: ', Professionals[I].EHealthId, ' ', Professionals[I].Name);

      Step := 'list';
      Docs := Dsp.List(Patient);
      Found := False;
      for I := 0 to High(Docs) do
      begin
        WriteLn('  ', Docs[I].UniqueId, '  ', Docs[I].Title, '  mode ',
          DspModeName(Docs[I].Mode));
        if Docs[I].UniqueId = Pushed.UniqueId then
          Found := True;
      end;
      if not Found then
      begin
        WriteLn(ErrOutput, 'document ', Pushed.UniqueId, ' is not listed');
        Exit;
      end;

      Step := 'set mode';
      Dsp.SetMode(Patient, Pushed.UniqueId, DSP_MODE_NORMAL);
      Mode := DSP_MODE_RESTREINT;
      Docs := Dsp.List(Patient);
      for I := 0 to High(Docs) do
        if Docs[I].UniqueId = Pushed.UniqueId then
          Mode := Docs[I].Mode;
      WriteLn('mode now ', DspModeName(Mode));
      if Mode <> DSP_MODE_NORMAL then
        Exit;

      { A bad matricule: a specific error that names the field. }
      Step := 'bad matricule';
      Bad := Metadata;
      Bad.Patient := '1893120105733';
      try
        Dsp.PushFile(FileName, Bad);
        WriteLn(ErrOutput, 'a bad matricule was accepted');
        Exit;
      except
        on E: EDspError do
          WriteLn('bad matricule: code ', E.Code, ', field ', E.Field);
      end;

      { The URL is a one-time bearer secret: hand it to the browser (here
        printed, since the example launches none), never to a log. }
      Step := 'open DSP';
      Url := Dsp.OpenDsp(Patient, False);
      WriteLn('DSP URL: ', Url);
      Result := 0;
    except
      on E: EDspError do
      begin
        WriteLn(ErrOutput, Step, ' failed: [', E.Code, '] ', E.Message);
        if E.Hint <> '' then
          WriteLn(ErrOutput, '  hint: ', E.Hint);
        if E.Field <> '' then
          WriteLn(ErrOutput, '  field: ', E.Field);
        if E.PinTriesLeft >= 0 then
          WriteLn(ErrOutput, '  PIN tries left: ', E.PinTriesLeft);
        Result := 1;
      end;
    end;
  finally
    Dsp.Free;
  end;
end;

begin
  if ParamCount <> 4 then
  begin
    WriteLn(ErrOutput, 'usage: ', ParamStr(0), ' SOCKET PIN PATIENT FILE');
    Halt(2);
  end;
  ExitCode := Run(UTF8String(ParamStr(1)), UTF8String(ParamStr(2)), UTF8String(ParamStr(3)),
    UTF8String(ParamStr(4)));
end.
